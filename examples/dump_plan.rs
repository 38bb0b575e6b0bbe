fn main() {
    let path = std::env::args().nth(1).unwrap();
    let src = std::fs::read_to_string(&path).unwrap();
    let mut sources = netc::diag::SourceMap::new();
    let g = netc::driver::compile(&mut sources, &path, &src).unwrap();
    let p = netc::autodiff::training(&g).unwrap();
    let plan =
        netc::sched::plan(&p, 2, netc::sched::Options { fuse: false, concat_in_place: true, share_memory: false });
    for (i, s) in plan.steps.iter().enumerate() {
        let ops: Vec<String> = s
            .operands
            .iter()
            .map(|b| {
                let l = plan.locations[b.index()];
                format!("{}@{}/{}", p.buffer(*b).name, l.offset, l.batch_stride)
            })
            .collect();
        println!("{i:3} {} {}", s.spec.kernel.name(), ops.join(" "));
    }
}
