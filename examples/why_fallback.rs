fn main() {
    let path = std::env::args().nth(1).unwrap();
    let src = std::fs::read_to_string(&path).unwrap();
    let mut sources = netc::diag::SourceMap::new();
    let g = netc::driver::compile(&mut sources, &path, &src).unwrap();
    let p = netc::autodiff::training(&g).unwrap();
    let plan = netc::sched::plan(&p, 64, netc::sched::Options::default());
    let jit = netc::codegen::jit::Jit::native().unwrap();
    for s in &plan.steps {
        if let Err(e) = netc::codegen::kernels::compile(&jit, &s.spec) {
            println!("{}: {e}\n  {:?}", s.spec.kernel.name(), s.spec);
        }
    }
}
