//! One image through the whole pipeline in one pass: channel step, placement (or a
//! random-resized crop), the augmentation's shift and flip, and the normalisation
//! table, written straight into the batch's floats.
//!
//! Only the channel conversion to gray, resizing and resized crops go through the
//! thread's [`Scratch`] buffers; kept channels at a kept size are read in place.

use super::channels::{luma_plane, Channels};
use super::geometry::{crop_into, Placed, Scratch};
use super::Pipeline;
use crate::data::augment::Draw;
use crate::data::images::Image;
use crate::data::resize::resize;

impl Pipeline {
    /// Writes `img` with the augmentation `draw` into `out` (`sample_len()` floats).
    /// `channels` must be the rule for `img`'s channel count ([`Pipeline::channels_for`]).
    pub(crate) fn write(
        &self,
        img: Image<'_>,
        channels: Channels,
        draw: &Draw,
        scratch: &mut Scratch,
        out: &mut [f32],
    ) {
        let Scratch { luma, resized, crop } = scratch;
        let src = if channels == Channels::RgbToGray {
            luma_plane(img, luma);
            Image { channels: 1, h: img.h, w: img.w, pixels: luma }
        } else {
            img
        };
        let (_, h, w) = self.input;
        let placed = match draw.rrc {
            Some(b) => {
                crop_into(src, (b.top, b.left), (b.h, b.w), crop);
                let boxed = Image { channels: src.channels, h: b.h, w: b.w, pixels: crop };
                let image = if (b.h, b.w) == (h, w) {
                    boxed
                } else {
                    *resized = resize(boxed, h, w).expect("positive sizes");
                    Image { channels: src.channels, h, w, pixels: resized }
                };
                Placed { image, top: 0, left: 0 }
            }
            None => self.geometry.place(src, (h, w), resized, crop),
        };
        self.sample(&placed, draw, out);
    }

    /// Field pixel `(y, x)` of channel `c` is `table[c][g(y − top, x' − left)]` with
    /// `x' = x`, or `w − 1 − x` when flipped; outside `g` it is `table[c][0]`.
    fn sample(&self, placed: &Placed<'_>, draw: &Draw, out: &mut [f32]) {
        let (c_out, h, w) = self.input;
        let g = placed.image;
        let (top, left) = (placed.top + draw.dy, placed.left + draw.dx);
        let (gh, gw) = (g.h as isize, g.w as isize);
        let wi = w as isize;
        // The columns x whose source column lies in 0..gw.
        let (x0, x1) = if draw.flip { (wi - left - gw, wi - left) } else { (left, left + gw) };
        let (x0, x1) = (x0.clamp(0, wi) as usize, x1.clamp(0, wi) as usize);
        for (c, plane_out) in out.chunks_exact_mut(h * w).take(c_out).enumerate() {
            let table = &self.tables[c];
            let pad = table[0];
            let plane = g.plane(if g.channels == 1 { 0 } else { c });
            for (y, row) in plane_out.chunks_exact_mut(w).enumerate() {
                let sy = y as isize - top;
                if sy < 0 || sy >= gh || x0 >= x1 {
                    row.fill(pad);
                    continue;
                }
                row[..x0].fill(pad);
                row[x1..].fill(pad);
                let src = &plane[sy as usize * g.w..][..g.w];
                let dst = &mut row[x0..x1];
                let n = dst.len();
                if draw.flip {
                    // x0 reads column w − 1 − x0 − left, going left as x goes right.
                    let hi = (wi - 1 - x0 as isize - left) as usize;
                    let lo = hi + 1 - n;
                    for (d, &v) in dst.iter_mut().zip(src[lo..=hi].iter().rev()) {
                        *d = table[usize::from(v)];
                    }
                } else {
                    let lo = (x0 as isize - left) as usize;
                    for (d, &v) in dst.iter_mut().zip(&src[lo..lo + n]) {
                        *d = table[usize::from(v)];
                    }
                }
            }
        }
    }
}
