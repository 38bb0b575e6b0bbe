fn main() {
    let path = std::env::args().nth(1).unwrap();
    let src = std::fs::read_to_string(&path).unwrap();
    let mut sources = netc::diag::SourceMap::new();
    let g = netc::driver::compile(&mut sources, &path, &src).unwrap();
    let jit = netc::codegen::jit::Jit::native().unwrap();
    for (what, p) in [
        ("train", netc::autodiff::training(&g).unwrap()),
        ("eval", netc::autodiff::fold_batch_norm(&netc::autodiff::inference(&g))),
    ] {
        let plan = netc::sched::plan(&p, 8, netc::sched::Options::default());
        let mut seen = std::collections::BTreeMap::new();
        for s in &plan.steps {
            if netc::sched::Plan::is_host(&s.spec.kernel) {
                continue;
            }
            if let Err(e) = netc::codegen::kernels::compile(&jit, &s.spec) {
                *seen.entry(format!("{}: {e}", s.spec.kernel.name())).or_insert(0) += 1;
            }
        }
        for (k, n) in seen {
            println!("{what}: {n} × {k}");
        }
    }
}
