fn main() {
    let path = std::env::args().nth(1).expect("a .net file");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut sources = netc::diag::SourceMap::new();
    let g = netc::driver::compile(&mut sources, &path, &text).map_err(|f| format!("{:?}", f.diagnostics)).unwrap();
    print!("{}", netc::autodiff::training(&g).unwrap());
}
