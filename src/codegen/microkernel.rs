//! The GEMM micro-kernel: one MR×NR tile of C from packed panels, generated
//! as CLIF with every accumulator in an xmm register.
//!
//! Consumes: a [`Tile`] (register blocking, k-unroll, contraction) and a
//! [`TileStore`] (how many rows/columns to write, whether to add the old C,
//! whether this is the last K block and so runs the epilogue, the C row
//! stride). Produces: `fn(a_panel, b_panel, c_tile, k_bytes, bias)` where
//! * `a_panel` holds `kp` steps of MR *pre-broadcast* f32x4 (`A[i0+r, p]`
//!   repeated in 4 lanes, see [`A_LANES`]),
//! * `b_panel` holds `kp` steps of NR floats (`B[p, j0..j0+NR]`),
//! * `k_bytes = kp · NR · 4`, `kp` a multiple of `Tile::ku` (the packer
//!   zero-pads the panels to it),
//! * `c_tile` points at `C[i0, j0]`, `bias` at `bias[i0]` (per-row) or
//!   `bias[j0]` (per-column), unused otherwise.
//!
//! Guarantees: reads exactly the panel bytes above and, for C and bias,
//! only the `rows × cols` elements of the tile (of C or, with
//! `transposed`, of Cᵀ); writes only those. All
//! sizes other than `kp` are compile-time constants, so addressing is
//! immediate offsets and edge tiles cost nothing in the full-tile code.
//!
//! Why it looks the way it does (all measured on the Zen 5 target, see
//! `examples/measure.rs`):
//! * compiled at [`Opt::None`]: the e-graph re-schedules the unrolled body so
//!   that all loads come first and every accumulator chain runs back to
//!   back, which needs ~30 live vectors and spills; program order needs 16;
//! * [`Contraction::Split`] (`vmulps` + `vaddps`) by default even when FMA
//!   exists: Cranelift lowers `fma` only to `vfmadd213`/`vfmadd132`, whose
//!   destination is a *multiplicand*, so every FMA either copies a shared
//!   operand or re-loads it, and accumulators rotate through registers
//!   (costing moves on the back edge). The split form is non-destructive
//!   (VEX), keeps each accumulator in one register, and Zen 5 issues FMUL
//!   and FADD on separate pipes, so it reaches the same peak: 94% of the
//!   f32x4 FMA ceiling in the kernel alone, against 62% for `fma` with this
//!   panel layout and 84% for the best fused variant found (one fresh
//!   `vbroadcastss` per FMA, bound by load ports);
//! * A pre-broadcast in the packed panel: a broadcast loaded by a value used
//!   NV times is not folded into `vbroadcastss mem` by Cranelift (only
//!   single-use loads are), costing a `vmovss`+`vbroadcastss` pair; a plain
//!   `vmovups` of a pre-broadcast vector is one load µop.

use cranelift_codegen::ir::{types, InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;

use crate::codegen::epilogue::{self, Bias, Epilogue};
use crate::codegen::error::{invalid, Result};
use crate::codegen::jit::{Jit, JitFn, Opt};
use crate::codegen::loops::counted_loop;
use crate::codegen::simd::{mem, V4};

/// Floats stored per A element in a packed A panel (pre-broadcast).
pub const A_LANES: usize = 4;

/// How the micro-kernel forms `acc + a·b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Contraction {
    /// `fmul` then `fadd` (two roundings). Fastest here, see module docs.
    Split,
    /// `fma` when the JIT has native FMA, else the same as `Split`.
    Fused,
}

/// Register blocking of the micro-kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tile {
    /// Rows of C per tile (A vectors per k step).
    pub mr: usize,
    /// f32x4 vectors per row (NR = 4·nv columns).
    pub nv: usize,
    /// k steps per loop iteration.
    pub ku: usize,
    /// Multiply-add form.
    pub contraction: Contraction,
}

impl Tile {
    /// Default tile, chosen by measurement (see `examples/measure.rs`):
    /// 5×8 keeps 10 accumulators + 2 B vectors + 1 A vector + 1 product in
    /// 14 of the 16 xmm registers (6×8 needs all 16 and spills once per k
    /// step), and 10 independent add chains cover FADD latency × 2 pipes.
    pub const DEFAULT: Tile = Tile { mr: 5, nv: 2, ku: 4, contraction: Contraction::Split };

    /// Columns of C per tile.
    pub fn nr(&self) -> usize {
        4 * self.nv
    }

    /// Rejects tiles that cannot fit the register file or make no sense.
    pub fn validate(&self) -> Result<()> {
        let ok = self.mr >= 1 && self.nv >= 1 && self.mr * self.nv <= 14 && (1..=16).contains(&self.ku);
        if ok {
            Ok(())
        } else {
            Err(invalid(format!("tile {self:?}: need mr,nv >= 1, mr*nv <= 14, 1 <= ku <= 16")))
        }
    }
}

/// How a micro-kernel writes its tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileStore {
    /// Rows actually stored (`1..=mr`).
    pub rows: usize,
    /// Columns actually stored (`1..=nr`).
    pub cols: usize,
    /// Add the existing C values (else overwrite).
    pub beta: bool,
    /// This is the last K block: apply the epilogue.
    pub last: bool,
    /// Bias / activation applied when `last`.
    pub epilogue: Epilogue,
    /// Row stride of C, in elements.
    pub ldc: usize,
    /// The tile is of Cᵀ: element `(r, c)` goes to `c_tile[c·ldc + r]`
    /// instead of `c_tile[r·ldc + c]` (lane by lane; used when the GEMM is
    /// computed as Cᵀ = Bᵀ·Aᵀ).
    pub transposed: bool,
}

impl TileStore {
    /// Element offset of tile element `(r, c)` from `c_tile`.
    fn elem(&self, r: usize, c: usize) -> usize {
        if self.transposed {
            c * self.ldc + r
        } else {
            r * self.ldc + c
        }
    }

    /// Distance in elements between consecutive lanes of a row vector.
    fn lane_stride(&self) -> usize {
        if self.transposed {
            self.ldc
        } else {
            1
        }
    }
}

/// `w` (1..=4) floats at element offsets `first + l·stride`.
#[derive(Debug, Clone, Copy)]
struct Lanes {
    first: usize,
    stride: usize,
    w: usize,
}

/// Compiles one micro-kernel variant.
pub fn compile_microkernel(jit: &Jit, tile: Tile, st: TileStore) -> Result<JitFn<5>> {
    check_store(tile, &st)?;
    jit.compile_opt("gemm_ukr", Opt::None, |b, [a, bp, c, kbytes, bias], feats| {
        let fma = feats.has_fma && tile.contraction == Contraction::Fused;
        emit_tile(b, fma, tile, &st, [a, bp, c, kbytes, bias])?;
        b.ins().return_(&[]);
        Ok(())
    })
}

/// Compiles a *sweep*: the same tile computation looped in CLIF over
/// `n_tiles` consecutive full-width tiles along N that share one A panel:
/// `fn(a_panel, b_panel0, c_tile0, k_bytes, bias0, n_tiles)`. Successive B
/// panels are `k_bytes` apart; C tiles and per-column bias advance by NR
/// columns. Only for `st.cols == NR`.
pub fn compile_sweep(jit: &Jit, tile: Tile, st: TileStore) -> Result<JitFn<6>> {
    check_store(tile, &st)?;
    if st.cols != tile.nr() {
        return Err(invalid("a sweep covers full-width tiles only"));
    }
    let c_step = (st.elem(0, tile.nr()) * 4) as i64;
    let bias_step = if st.epilogue.bias == Bias::PerCol { (tile.nr() * 4) as i64 } else { 0 };
    jit.compile_opt("gemm_sweep", Opt::None, |b, [a, bp, c, kbytes, bias, n], feats| {
        let fma = feats.has_fma && tile.contraction == Contraction::Fused;
        counted_loop(b, n, 1, &[bp, c, bias], |b, _, ptrs| {
            emit_tile(b, fma, tile, &st, [a, ptrs[0], ptrs[1], kbytes, ptrs[2]])?;
            let next_b = b.ins().iadd(ptrs[0], kbytes);
            let next_c = b.ins().iadd_imm_s(ptrs[1], c_step);
            let next_bias = b.ins().iadd_imm_s(ptrs[2], bias_step);
            Ok(vec![next_b, next_c, next_bias])
        })?;
        b.ins().return_(&[]);
        Ok(())
    })
}

fn check_store(tile: Tile, st: &TileStore) -> Result<()> {
    tile.validate()?;
    if st.rows == 0 || st.rows > tile.mr || st.cols == 0 || st.cols > tile.nr() {
        return Err(invalid(format!("store {st:?} does not fit tile {tile:?}")));
    }
    Ok(())
}

/// Emits one tile: the k loop, then the store. `args` are
/// `[a_panel, b_panel, c_tile, k_bytes, bias]`.
fn emit_tile(b: &mut FunctionBuilder, fma: bool, tile: Tile, st: &TileStore, args: [Value; 5]) -> Result<()> {
    let [a, bp, c, kbytes, bias] = args;
    let zero = V4::new(b, fma).splat(0.0);
    let mut init = vec![a];
    init.extend(std::iter::repeat_n(zero, tile.mr * tile.nv));
    let step = (tile.ku * tile.nr() * 4) as i64;
    let out = counted_loop(b, kbytes, step, &init, |b, off, state| {
        let mut v = V4::new(b, fma);
        let bptr = v.b.ins().iadd(bp, off);
        let mut acc = state[1..].to_vec();
        k_steps(&mut v, tile, state[0], bptr, &mut acc);
        let next_a = v.offset(state[0], (tile.ku * tile.mr * A_LANES * 4) as i64);
        Ok(std::iter::once(next_a).chain(acc).collect())
    })?;
    let mut v = V4::new(b, fma);
    store_tile(&mut v, tile, st, &out[1..], c, bias);
    Ok(())
}

/// `ku` rank-1 updates of the accumulators from the panels at `ap`/`bp`,
/// in the order that keeps register pressure at its minimum: per k step,
/// the NV B vectors, then row by row one A vector and its NV updates.
fn k_steps(v: &mut V4, tile: Tile, ap: Value, bp: Value, acc: &mut [Value]) {
    for u in 0..tile.ku {
        let bv: Vec<Value> = (0..tile.nv).map(|j| v.load(bp, ((u * tile.nr() + 4 * j) * 4) as i32)).collect();
        for r in 0..tile.mr {
            let av = v.load(ap, ((u * tile.mr + r) * A_LANES * 4) as i32);
            for (j, bj) in bv.iter().enumerate() {
                let k = r * tile.nv + j;
                acc[k] = v.mul_add(av, *bj, acc[k]);
            }
        }
    }
}

/// Writes `st.rows × st.cols` results, adding old C and the epilogue.
fn store_tile(v: &mut V4, tile: Tile, st: &TileStore, acc: &[Value], c: Value, bias: Value) {
    let ep = st.epilogue;
    for r in 0..st.rows {
        let row_bias = (st.last && ep.bias == Bias::PerRow).then(|| v.load_splat(bias, (r * 4) as i32));
        for j in 0..tile.nv {
            let col = 4 * j;
            if col >= st.cols {
                break;
            }
            let w = (st.cols - col).min(4);
            let at = Lanes { first: st.elem(r, col), stride: st.lane_stride(), w };
            let mut x = acc[r * tile.nv + j];
            if st.beta {
                let old = load_lanes(v, c, at);
                x = v.add(x, old);
            }
            if st.last && !ep.is_identity() {
                let bv = match ep.bias {
                    Bias::None => None,
                    Bias::PerRow => row_bias,
                    Bias::PerCol => Some(load_lanes(v, bias, Lanes { first: col, stride: 1, w })),
                };
                x = epilogue::emit(v, x, bv, ep.relu);
            }
            store_lanes(v, x, c, at);
        }
    }
}

/// Address of element `elem` past `p`, as (base, immediate byte offset);
/// offsets beyond the i32 immediate range get an explicit add.
fn addr(v: &mut V4, p: Value, elem: usize) -> (Value, i32) {
    match i32::try_from(elem * 4) {
        Ok(off) => (p, off),
        Err(_) => (v.offset(p, (elem * 4) as i64), 0),
    }
}

/// Loads the lanes at `at`; lanes past `at.w` are zero.
fn load_lanes(v: &mut V4, p: Value, at: Lanes) -> Value {
    if at.w == 4 && at.stride == 1 {
        let (base, off) = addr(v, p, at.first);
        return v.load(base, off);
    }
    let mut x = v.splat(0.0);
    for l in 0..at.w {
        let (base, off) = addr(v, p, at.first + l * at.stride);
        let s = v.b.ins().load(types::F32, mem(), base, off);
        x = v.b.ins().insertlane(x, s, l as u8);
    }
    x
}

/// Stores the first `at.w` lanes of `x` at `at`.
fn store_lanes(v: &mut V4, x: Value, p: Value, at: Lanes) {
    if at.w == 4 && at.stride == 1 {
        let (base, off) = addr(v, p, at.first);
        return v.store(x, base, off);
    }
    for l in 0..at.w {
        let (base, off) = addr(v, p, at.first + l * at.stride);
        let s = v.b.ins().extractlane(x, l as u8);
        v.b.ins().store(mem(), s, base, off);
    }
}
