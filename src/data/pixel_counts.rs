//! Pixel counts of a split: for each stored plane, how many pixels take each byte value.
//! The normalisation's moments follow from them exactly (integer sums), so a split that
//! is streamed from disk keeps these counts, taken while its files were decoded at load
//! time, instead of its pixels.
//!
//! Consumes: decoded images one by one, in any order and on any thread (counts add up).
//!
//! Produces: a [`PixelCounts`], and from it the histogram of each input channel of a net
//! under a channel rule ([`PixelCounts::channel_histograms`]), equal to what counting
//! the in-memory set gives: the counts keep gray files apart from colour files, because
//! whether a gray file becomes three replicated planes is only known once every file has
//! been seen (a folder is 3-channel when any file is colour). The BT.601 luma of the
//! replicated planes of a gray pixel `v` is `v` itself (the weights sum to 65536), so
//! gray files count as they are in the luma of a folder fed to a 1-channel net.

use crate::data::prep::{luma, Channels};

/// How many pixels take each byte value.
pub type Histogram = [u64; 256];

/// The counts of a split's pixels; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PixelCounts {
    /// The planes of gray files.
    gray: Box<Histogram>,
    /// The R, G and B planes of colour files.
    colour: Box<[Histogram; 3]>,
    /// The BT.601 luma of colour files' pixels.
    luma: Box<Histogram>,
}

impl Default for PixelCounts {
    fn default() -> Self {
        PixelCounts { gray: Box::new([0; 256]), colour: Box::new([[0; 256]; 3]), luma: Box::new([0; 256]) }
    }
}

fn add_into(to: &mut Histogram, from: &Histogram) {
    to.iter_mut().zip(from).for_each(|(t, f)| *t += f);
}

fn sum(a: &Histogram, b: &Histogram) -> Histogram {
    let mut s = *a;
    add_into(&mut s, b);
    s
}

impl PixelCounts {
    /// Counts one planar image of 1 (gray) or 3 (colour) channels, `h × w` pixels each.
    pub fn add(&mut self, channels: usize, pixels: &[u8]) {
        if channels != 3 {
            pixels.iter().for_each(|&p| self.gray[usize::from(p)] += 1);
            return;
        }
        let n = pixels.len() / 3;
        let (r, rest) = pixels.split_at(n);
        let (g, b) = rest.split_at(n);
        for ((&r, &g), &b) in r.iter().zip(g).zip(b) {
            self.colour[0][usize::from(r)] += 1;
            self.colour[1][usize::from(g)] += 1;
            self.colour[2][usize::from(b)] += 1;
            self.luma[usize::from(luma(r, g, b))] += 1;
        }
    }

    /// Adds `other`'s counts.
    pub fn merge(&mut self, other: &PixelCounts) {
        add_into(&mut self.gray, &other.gray);
        for (c, o) in self.colour.iter_mut().zip(other.colour.iter()) {
            add_into(c, o);
        }
        add_into(&mut self.luma, &other.luma);
    }

    /// The histogram of each net input channel when the split is stored with
    /// `stored` channels (1 when every file of the folder is gray, else 3) and fed
    /// through the channel rule `rule`.
    pub fn channel_histograms(&self, stored: usize, rule: Channels) -> Vec<Histogram> {
        match (rule, stored) {
            (Channels::RgbToGray, _) => vec![sum(&self.luma, &self.gray)],
            (Channels::GrayToRgb, _) => vec![*self.gray; 3],
            (Channels::Keep, 1) => vec![*self.gray],
            (Channels::Keep, _) => self.colour.iter().map(|c| sum(c, &self.gray)).collect(),
        }
    }

    /// Every stored byte of every plane together, for a split stored with `stored`
    /// channels (gray files count once per stored plane).
    pub fn all_planes(&self, stored: usize) -> Histogram {
        let mut all = [0u64; 256];
        for c in self.colour.iter() {
            add_into(&mut all, c);
        }
        for _ in 0..stored.max(1) {
            add_into(&mut all, &self.gray);
        }
        all
    }
}
