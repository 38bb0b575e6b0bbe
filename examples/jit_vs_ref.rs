use netc::data::Rng;
use netc::runtime::{Engine, JitEngine, JitOptions, ParamStore, ReferenceEngine};
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let src = std::fs::read_to_string(&path).unwrap();
    let mut sources = netc::diag::SourceMap::new();
    let g = netc::driver::compile(&mut sources, &path, &src).unwrap();
    for bits in 0..8u8 {
        let plan =
            netc::sched::Options { fuse: bits & 1 != 0, concat_in_place: bits & 2 != 0, share_memory: bits & 4 != 0 };
        let (threads, codegen) = (1, false);
        let mut reference = ReferenceEngine::new(&g, 5, 7).unwrap();
        let mut jit = JitEngine::new(&g, JitOptions { threads, codegen, seed: 7, plan }).unwrap();
        let mut a = ParamStore::new(&reference.training_program().params);
        netc::train::initialise(&mut a, &g, 2);
        let mut b = a.clone();
        let p = reference.training_program();
        let mut rng = Rng::new(3);
        let images: Vec<f32> = (0..p.buffer(p.input).len(5)).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let labels: Vec<f32> = (0..5).map(|i| (i % p.classes) as f32).collect();
        let la = reference.train_step(&mut a, &images, &labels, 5, 0);
        let lb = jit.train_step(&mut b, &images, &labels, 5, 0);
        println!("{plan:?}: ref {la} jit {lb}");
    }
}
