//! Cache blocking for the GEMM: how big the packed A block (mc × kc), the
//! packed B block (kc × nc) and the k slice are, derived from cache sizes.
//!
//! Consumes: M, N, K, the register [`Tile`] and [`CacheSizes`].
//! Produces: a [`Blocking`] with `mc` a multiple of MR, `nc` a multiple of
//! NR, `kc` a multiple of the k-unroll, each at least one tile.
//! Guarantees (Goto/BLIS, with the roles of the caches arranged for the
//! pre-broadcast A panels, which are the bigger stream per k step): one A
//! micro-panel (kc × MR × 4 lanes) plus one B micro-panel (kc × NR) fill
//! about half of L1, and the A micro-panel stays there while the tile loop
//! walks the B micro-panels; the B block (kc × nc) fills about half of L2;
//! the A block (mc × kc) is sized for a share of L3. Each dimension is
//! split into equal blocks (rather than max-size blocks plus a sliver) so
//! no block is wastefully small.

use crate::codegen::microkernel::{Tile, A_LANES};

/// Per-core cache capacities in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheSizes {
    /// L1 data cache.
    pub l1d: usize,
    /// L2 cache.
    pub l2: usize,
    /// The part of the shared L3 one GEMM may assume it owns.
    pub l3_share: usize,
}

impl Default for CacheSizes {
    /// The target machine: Zen 5 class, 48 KB L1d and 1 MB L2 per core;
    /// 8 MB of L3 assumed available.
    fn default() -> Self {
        CacheSizes { l1d: 48 << 10, l2: 1 << 20, l3_share: 8 << 20 }
    }
}

/// Block sizes in elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Blocking {
    /// Rows of A packed at once.
    pub mc: usize,
    /// Depth of one K slice.
    pub kc: usize,
    /// Columns of B packed at once.
    pub nc: usize,
}

/// Picks block sizes for an M×N×K product.
pub fn choose(m: usize, n: usize, k: usize, tile: Tile, caches: CacheSizes) -> Blocking {
    let f = std::mem::size_of::<f32>();
    let a_step = tile.mr * A_LANES * f;
    let kc_max = caches.l1d / 2 / (a_step + tile.nr() * f);
    let kc = split(k, kc_max, tile.ku);
    let nc_max = caches.l2 / 2 / (kc.max(1) * f);
    let nc = split(n, nc_max, tile.nr());
    let mc_max = caches.l3_share / (kc.max(1) * A_LANES * f);
    let mc = split(m, mc_max, tile.mr);
    Blocking { mc, kc, nc }
}

/// Splits `len` into equal blocks of at most `max` (but at least `unit`),
/// each rounded up to a multiple of `unit`.
pub fn split(len: usize, max: usize, unit: usize) -> usize {
    let unit = unit.max(1);
    let max = (max / unit * unit).max(unit);
    let len = len.max(1);
    let blocks = len.div_ceil(max);
    len.div_ceil(blocks).div_ceil(unit) * unit
}

/// Rounds `x` up to a multiple of `unit`.
pub fn round_up(x: usize, unit: usize) -> usize {
    x.div_ceil(unit) * unit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_tile_multiples_and_cover() {
        let t = Tile::DEFAULT;
        for &(m, n, k) in &[(1, 1, 1), (64, 3136, 576), (512, 49, 4608), (1024, 1024, 1024)] {
            let b = choose(m, n, k, t, CacheSizes::default());
            assert_eq!(b.mc % t.mr, 0);
            assert_eq!(b.nc % t.nr(), 0);
            assert_eq!(b.kc % t.ku, 0);
            assert!(b.kc * (t.mr * A_LANES + t.nr()) * 4 <= 24 << 10 || b.kc == t.ku);
            assert!(b.kc * b.nc * 4 <= 512 << 10 || b.nc == t.nr());
        }
    }

    #[test]
    fn split_is_even() {
        assert_eq!(split(310, 300, 6), 156);
        assert_eq!(split(600, 300, 6), 300);
        assert_eq!(split(10, 300, 6), 12);
        assert_eq!(split(0, 300, 6), 6);
    }
}
