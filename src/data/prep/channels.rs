//! The channel step of preprocessing: the stored image's channels → the net's.
//!
//! Consumes: the channel count of the stored images (1 gray or 3 RGB; alpha was
//! dropped when the images were loaded), the net's input channels and whether the user
//! allowed colour to become gray (`--gray`).
//!
//! Produces: a [`Channels`] rule, and for [`Channels::RgbToGray`] the gray plane.
//!
//! Rules: equal counts are kept; gray becomes RGB by replicating its plane; RGB becomes
//! gray only when asked, with ITU-R BT.601 luma in the integer form of PIL's
//! `convert("L")`: `(19595·R + 38470·G + 7471·B + 32768) >> 16`, i.e. the weights
//! 0.299, 0.587 and 0.114 in 16-bit fixed point, rounded. Anything else is an error
//! naming both counts.

use crate::data::images::Image;

/// How the stored channels become the net's input channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    /// The stored image already has the net's channels.
    Keep,
    /// A gray image fed to a 3-channel net: its plane is used for every channel.
    GrayToRgb,
    /// An RGB image fed to a 1-channel net (`--gray`): BT.601 luma.
    RgbToGray,
}

/// The weights of R, G and B in 16-bit fixed point (0.299, 0.587, 0.114 × 65536, rounded
/// so that they sum to 65536), as PIL uses them.
const LUMA_WEIGHTS: [u32; 3] = [19595, 38470, 7471];

/// The BT.601 luma of one RGB pixel, rounded to the nearest level.
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    let [wr, wg, wb] = LUMA_WEIGHTS;
    ((wr * u32::from(r) + wg * u32::from(g) + wb * u32::from(b) + 0x8000) >> 16) as u8
}

/// Writes the luma plane of a 3-channel image into `out` (resized to `h × w`).
pub(crate) fn luma_plane(img: Image<'_>, out: &mut Vec<u8>) {
    let n = img.h * img.w;
    out.clear();
    out.extend(
        img.plane(0)[..n].iter().zip(&img.plane(1)[..n]).zip(&img.plane(2)[..n]).map(|((&r, &g), &b)| luma(r, g, b)),
    );
}

fn kind(channels: usize) -> String {
    match channels {
        1 => "1-channel (gray)".into(),
        3 => "3-channel (RGB)".into(),
        c => format!("{c}-channel"),
    }
}

impl Channels {
    /// The rule for `data` stored channels into a net with `net` input channels.
    /// The error says what each side has and what to change.
    pub fn resolve(data: usize, net: usize, gray: bool) -> Result<Channels, String> {
        match (data, net) {
            (d, n) if d == n && (d == 1 || d == 3) => Ok(Channels::Keep),
            (1, 3) => Ok(Channels::GrayToRgb),
            (3, 1) if gray => Ok(Channels::RgbToGray),
            (3, 1) => Err(format!(
                "the net takes {} input but the images are {}; add --gray to convert them (ITU-R BT.601 luma), \
                 or give the net 3 input channels",
                kind(1),
                kind(3)
            )),
            (d, n) => Err(format!(
                "the net takes {} input but the images are {}; netc feeds 1-channel (gray) or 3-channel (RGB) \
                 nets only",
                kind(n),
                kind(d)
            )),
        }
    }

    /// The name used in a checkpoint's `netc.preprocess`.
    pub fn key(self) -> &'static str {
        match self {
            Channels::Keep => "keep",
            Channels::GrayToRgb => "gray-to-rgb",
            Channels::RgbToGray => "rgb-to-gray",
        }
    }

    /// The rule named `key` (see [`Channels::key`]).
    pub fn from_key(key: &str) -> Option<Channels> {
        [Channels::Keep, Channels::GrayToRgb, Channels::RgbToGray].into_iter().find(|c| c.key() == key)
    }

    /// Words for the one-line report, for images of `net` channels.
    pub fn describe(self, net: usize) -> String {
        match (self, net) {
            (Channels::Keep, 1) => "gray".into(),
            (Channels::Keep, _) => "RGB".into(),
            (Channels::GrayToRgb, _) => "gray → RGB (replicated)".into(),
            (Channels::RgbToGray, _) => "RGB → gray (BT.601 luma, as PIL's convert(\"L\"))".into(),
        }
    }
}
