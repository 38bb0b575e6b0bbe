use netc::runtime::{reference::KernelCtx, Executor, ParamStore};
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let src = std::fs::read_to_string(&path).unwrap();
    let mut sources = netc::diag::SourceMap::new();
    let g = netc::driver::compile(&mut sources, &path, &src).unwrap();
    let p = netc::autodiff::inference(&g);
    let mut store = ParamStore::new(&p.params);
    netc::train::initialise(&mut store, &g, 1);
    let mut ex: Executor<f32> = Executor::new(p.clone(), 1);
    let t = std::time::Instant::now();
    ex.run(0..p.steps.len(), 1, &mut store.values, &mut store.grads, &KernelCtx::default());
    println!("{path}: {:.2} s", t.elapsed().as_secs_f64());
}
