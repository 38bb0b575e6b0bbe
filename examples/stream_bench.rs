//! Single-thread throughput of feeding an image folder's training split, in memory and
//! streamed from disk (each image decoded again as its batch is filled), through the
//! preprocessing a net of the given input size gets, with the given augmentation: what
//! one data worker can supply, to compare with what the engine consumes.
//!
//! `cargo run --release --example stream_bench -- DIR [C H W] [AUGMENT]`
//! (default 3 32 32, crop=4,flip)

use netc::data::{
    feed, Augment, CacheImages, Dataset, DecodeOptions, FeedSpec, LoadOptions, Pipeline, PrepOptions, SearchRoots,
};
use std::time::Instant;

/// Images per second of the best of three epochs fed on the calling thread.
fn rate(ds: &Dataset, p: &Pipeline, augment: Augment) -> f64 {
    let spec = FeedSpec { ds, pipeline: p, augment, batch: 128, workers: 0 };
    let best = feed(&spec, |f| {
        let mut best = f64::INFINITY;
        for epoch in 0..3 {
            let t = Instant::now();
            let mut e = f.epoch(1, epoch);
            while let Some(b) = e.next_batch().expect("the folder does not change") {
                std::hint::black_box(b.batch().images);
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        best
    })
    .expect("a valid feed");
    ds.count() as f64 / best
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: stream_bench DIR [C H W] [AUGMENT]");
        std::process::exit(2);
    };
    let dim = |k: usize, d: usize| args.get(k).map_or(d, |a| a.parse().expect("a size"));
    let input = (dim(1, 3), dim(2, 32), dim(3, 32));
    let augment: Augment = args.get(4).map_or("crop=4,flip", String::as_str).parse().expect("an augmentation");
    let prep = PrepOptions::default();
    let load = |cache| {
        let opts = LoadOptions {
            cache,
            decode: DecodeOptions { max_shorter_side: Some(prep.stored_side(input)), ..DecodeOptions::default() },
            ..LoadOptions::default()
        };
        netc::data::load(dir, None, &SearchRoots::from_process(), &opts).expect("the folder loads").train
    };
    let (memory, streamed) = (load(CacheImages::Always), load(CacheImages::Never));
    let p = Pipeline::build(&prep, &memory, input).expect("a pipeline");
    println!("{} training images, {}; augmentation {augment}", memory.count(), p.describe());
    println!("in memory: {:>8.0} images/s on one thread", rate(&memory, &p, augment));
    println!("streamed:  {:>8.0} images/s on one thread", rate(&streamed, &p, augment));
}
