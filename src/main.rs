//! The `netc` binary: everything happens in the library's `cli` module.

fn main() {
    std::process::exit(netc::cli::main());
}
