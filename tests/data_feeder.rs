//! The feeder gives the batches of the single-threaded batcher, bit for bit, for any
//! number of workers and batch sizes; an epoch abandoned half-way does not disturb the
//! next; a sample's augmentation depends on its index, not on its batch.

use netc::data::feeder::{feed, FeedSpec};
use netc::data::{Augment, Batcher, Dataset, ImageSet, Pipeline, PrepOptions};

/// `n` RGB images of 20×24 with varied content.
fn colour(n: usize) -> Dataset {
    let per = 3 * 20 * 24;
    let pixels = (0..n * per).map(|k| ((k * 7919 + k / per * 31) % 256) as u8).collect();
    Dataset {
        name: "colour".into(),
        images: ImageSet::fixed(3, 20, 24, pixels).unwrap(),
        labels: (0..n).map(|i| (i % 3) as u16).collect(),
        classes: vec!["a".into(), "b".into(), "c".into()],
        files: Vec::new(),
    }
}

/// Every batch of one epoch: (indices, labels, image bits).
type Batches = Vec<(Vec<usize>, Vec<u16>, Vec<u32>)>;

fn batcher_epoch(ds: &Dataset, p: &Pipeline, augment: Augment, batch: usize, epoch: Option<u64>) -> Batches {
    let mut b = Batcher::new(ds, p, batch).unwrap().with_augment(augment);
    let mut e = match epoch {
        Some(k) => b.epoch(42, k),
        None => b.in_order(),
    };
    let mut out = Vec::new();
    while let Some(x) = e.next_batch() {
        out.push((x.indices.to_vec(), x.labels.to_vec(), x.images.iter().map(|v| v.to_bits()).collect()));
    }
    out
}

fn fed_epochs(ds: &Dataset, p: &Pipeline, augment: Augment, batch: usize, workers: usize) -> Vec<Batches> {
    let spec = FeedSpec { ds, pipeline: p, augment, batch, workers };
    feed(&spec, |f| {
        let mut all = Vec::new();
        for epoch in [Some(0), None, Some(1)] {
            let mut e = match epoch {
                Some(k) => f.epoch(42, k),
                None => f.in_order(),
            };
            let mut out = Vec::new();
            while let Some(fed) = e.next_batch().unwrap() {
                let x = fed.batch();
                out.push((x.indices.to_vec(), x.labels.to_vec(), x.images.iter().map(|v| v.to_bits()).collect()));
            }
            all.push(out);
        }
        all
    })
    .unwrap()
}

#[test]
fn any_number_of_workers_gives_the_batchers_batches() {
    let ds = colour(53);
    // Resized and cropped (20×24 → shorter side 18 → 16×16), all augmentations.
    let p = Pipeline::build(&PrepOptions::default(), &ds, (3, 16, 16)).unwrap();
    let augment: Augment = "rrc=0.3-1,shift=1,crop=2,flip".parse().unwrap();
    for batch in [7, 16, 53, 100] {
        let want: Vec<Batches> =
            [Some(0), None, Some(1)].into_iter().map(|e| batcher_epoch(&ds, &p, augment, batch, e)).collect();
        for workers in [0, 1, 2, 3] {
            assert!(fed_epochs(&ds, &p, augment, batch, workers) == want, "batch {batch}, {workers} workers");
        }
    }
}

#[test]
fn a_samples_draws_do_not_depend_on_its_batch() {
    let ds = colour(40);
    let p = Pipeline::build(&PrepOptions::default(), &ds, (3, 20, 24)).unwrap();
    let augment: Augment = "crop=3,flip,rrc".parse().unwrap();
    let by_index = |batch| {
        let mut images = vec![Vec::new(); 40];
        for (indices, _, bits) in batcher_epoch(&ds, &p, augment, batch, Some(5)) {
            for (k, &i) in indices.iter().enumerate() {
                images[i] = bits[k * p.sample_len()..(k + 1) * p.sample_len()].to_vec();
            }
        }
        images
    };
    assert!(by_index(3) == by_index(16));
}

#[test]
fn an_abandoned_epoch_does_not_disturb_the_next() {
    let ds = colour(64);
    let p = Pipeline::build(&PrepOptions::default(), &ds, (3, 20, 24)).unwrap();
    let augment: Augment = "crop=2,flip".parse().unwrap();
    let want = batcher_epoch(&ds, &p, augment, 4, Some(1));
    for workers in [1, 3] {
        let spec = FeedSpec { ds: &ds, pipeline: &p, augment, batch: 4, workers };
        let got = feed(&spec, |f| {
            {
                let mut e = f.epoch(42, 0);
                let _first = e.next_batch().unwrap().unwrap();
                // Dropped with the workers still filling the ring.
            }
            let mut e = f.epoch(42, 1);
            let mut out = Vec::new();
            while let Some(fed) = e.next_batch().unwrap() {
                let x = fed.batch();
                out.push((x.indices.to_vec(), x.labels.to_vec(), x.images.iter().map(|v| v.to_bits()).collect()));
            }
            assert!(e.waited().as_secs_f64() >= 0.0);
            out
        })
        .unwrap();
        assert!(got == want, "{workers} workers");
    }
}

#[test]
fn bad_specs_are_errors() {
    let ds = colour(5);
    let p = Pipeline::build(&PrepOptions::default(), &ds, (3, 20, 24)).unwrap();
    let spec = |batch, workers| FeedSpec { ds: &ds, pipeline: &p, augment: Augment::none(), batch, workers };
    assert!(feed(&spec(0, 1), |_| ()).is_err());
    assert!(feed(&spec(2, 1000), |_| ()).is_err());
    let gray = Pipeline::build(&PrepOptions { gray: true, ..PrepOptions::default() }, &ds, (1, 20, 24)).unwrap();
    let mut mono = colour(5);
    mono.images = ImageSet::fixed(2, 20, 24, vec![0; 5 * 2 * 20 * 24]).unwrap();
    let spec = FeedSpec { ds: &mono, pipeline: &gray, augment: Augment::none(), batch: 2, workers: 1 };
    assert!(feed(&spec, |_| ()).is_err(), "2-channel images into a gray net");
}
