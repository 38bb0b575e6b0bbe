//! Measures loading an image folder: `cargo run --release --example load_folder --
//! DIR [THREADS] [SHORTER_SIDE]` prints the images decoded per second.

use std::time::Instant;

use netc::data::{load, DecodeOptions, LoadOptions, SearchRoots};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: load_folder DIR [THREADS] [SHORTER_SIDE]");
        std::process::exit(2);
    };
    let threads = args.next().and_then(|t| t.parse().ok());
    let max_shorter_side = args.next().and_then(|t| t.parse().ok());
    let opts = LoadOptions {
        threads,
        for_eval: true,
        decode: DecodeOptions { max_shorter_side, ..DecodeOptions::default() },
        ..LoadOptions::default()
    };
    let start = Instant::now();
    match load(&dir, None, &SearchRoots::from_process(), &opts) {
        Ok(s) => {
            let n = s.train.count() + s.test.count();
            let secs = start.elapsed().as_secs_f64();
            println!(
                "{n} images ({} channels, {} bytes) in {secs:.2} s: {:.0} images/s",
                s.test.images.channels(),
                s.train.images.pixels().len() + s.test.images.pixels().len(),
                n as f64 / secs
            );
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
