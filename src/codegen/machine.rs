//! What the tiled kernels assume about the machine they run on, in one place.
//!
//! Consumes nothing. Produces the constants the kernel planners (`kernels::conv`)
//! read: cache sizes, cost-model rates and run-time thresholds. The thread count is
//! not here: it comes from the caller's options (`--threads`, [`DEFAULT_THREADS`] by
//! default) through `ConvOptions::threads`.
//! Guarantees: nothing about correctness — every value only steers a choice
//! (tiles, packing, parts, blocks) between algorithms with identical results.
//!
//! All were measured on the development target, a Zen 5 core (48 KiB L1d, 1 MiB L2,
//! 2 + 2 f32x4 FP pipes; 2 cores for the tests and benchmarks), with
//! `examples/jit_conv_bench.rs`; the rates are orders of magnitude, enough to rank
//! plans whose costs differ by tens of per cent.

/// Threads a kernel's parts are planned for when the caller does not say (the CI
/// machine's cores, and the command line's `--threads` default).
pub const DEFAULT_THREADS: usize = 2;

/// L1 data cache of one core (bytes): B operands spanning more than this across a
/// tile's k loop are streamed from L2 (see `OuterCosts::b_streams`).
pub const L1_BYTES: i64 = 48 << 10;

/// L2 cache of one core (bytes), the smaller of current cores' (Zen 4 and 5: 1 MiB;
/// Golden Cove: 2 MiB): a source bigger than this is read from L3 or memory on
/// every pass, so its streams must be prefetched (see [`PREFETCH_STREAMS`]).
pub const L2_BYTES: i64 = 1 << 20;

/// Sequential streams, each in its own 4 KiB page, that the L2 prefetchers follow
/// at once (32 on current Intel and AMD cores): a k loop that reads more source
/// channels side by side than this waits for memory on many of them.
pub const PREFETCH_STREAMS: usize = 32;

/// Most floats of prepared sources per chunk of units in the weight gradient (keeps
/// a chunk, with the tile's dy rows, in L2 while the dot engine passes over it).
pub const CHUNK_FLOATS: usize = 8 << 10;

/// Seconds per FLOP at the f32x4 peak of one core (≈ 65 GFLOP/s: the `fmul` +
/// `fadd` engine reaches 94% of the measured 67 GFLOP/s ceiling, see `ceiling`).
pub const PEAK_S_PER_FLOP: f64 = 1.0 / 65e9;

/// Seconds per float moved when preparing a padded source window, and when
/// packing (pre-broadcasting) weights.
pub const PREP_S_PER_FLOAT: f64 = 0.5e-9;
pub const PACK_S_PER_FLOAT: f64 = 0.3e-9;

/// Throughput of weights broadcast in place relative to packed ones (measured 58 vs
/// 67 GFLOP/s in L1 for a 6×2 tile, rounded down for the extra loads out of L1).
pub const DIRECT_EFFICIENCY: f64 = 0.85;

/// Skip tap rows at run time only when the skipped rows hold more than this many
/// taps per grid row and channel on average. Bounds cost a computation per grid row
/// and, per channel, a run-time loop over the tap rows (channels no longer unrolled,
/// a mispredicted exit where the count changes), against products with padding worth
/// a few cycles per tap. With bounds wherever more than 4% of the tap rows read
/// padding (the rule before), 2-core Intel Xeon, interleaved: a 512@3×3/2 training
/// pair (data-gradient phases of 1–4 taps, 7% wasted) 45.0 → 38.9 ms without them,
/// AlexNet inference (5×5 on 27², 3×3 on 13²) 30.3 → 27.9, Inception-v3 117.3 →
/// 114.9, ResNet-18 training 516.5 → 509.3.
pub const MIN_SKIPPED_TAPS: f64 = 4.0;
