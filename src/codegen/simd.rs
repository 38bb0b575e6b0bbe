//! Thin f32x4 instruction helpers on top of `FunctionBuilder`.
//!
//! Consumes: a `FunctionBuilder` in some block and whether native FMA may be
//! emitted. Produces: CLIF values of type `f32x4` / `i32x4` / `i64`.
//! Guarantees:
//! * [`V4::mul_add`] emits `fma` only when the ISA lowers it natively, else
//!   `fmul`+`fadd` (never Cranelift's slow libcall fallback);
//! * [`V4::min`]/[`V4::max`] use the `bitselect(fcmp lt)` shape that the x64
//!   backend matches to a single `minps`/`maxps` (Cranelift's own
//!   `fmin`/`fmax` add a NaN-canonicalising sequence we do not need). With a
//!   NaN operand they return the second operand, like `minps`, which
//!   [`V4::clamp`] uses to let NaN through;
//! * memory accesses are `notrap` and unaligned-tolerant (natural `f32`
//!   alignment is all that is assumed).

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{
    types, ConstantData, Endianness, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, Value,
};
use cranelift_frontend::FunctionBuilder;

/// Memory flags used for every kernel access: no trap metadata, no alignment
/// promise beyond the element's.
pub fn mem() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// Flags for a bitcast that changes the lane count (little-endian lane order).
pub fn lanes_le() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

/// The address of a 16-byte aligned stack buffer of `n` f32x4 vectors in the
/// function being built: scratch between two passes of a computation whose values
/// would not fit the 16 vector registers (spilled, they cost more accesses).
pub fn stack_vectors(b: &mut FunctionBuilder, n: usize) -> Value {
    let data = StackSlotData::new(StackSlotKind::ExplicitSlot, (16 * n) as u32, 4);
    let slot = b.create_sized_stack_slot(data);
    b.ins().stack_addr(types::I64, slot, 0)
}

/// An f32x4 emitter: a borrowed builder plus the FMA decision.
pub struct V4<'a, 'b> {
    /// The underlying builder, for control flow and scalar code.
    pub b: &'a mut FunctionBuilder<'b>,
    fma: bool,
}

impl<'a, 'b> V4<'a, 'b> {
    /// Wraps `b`; `fma` says whether native fused multiply-add may be used.
    pub fn new(b: &'a mut FunctionBuilder<'b>, fma: bool) -> Self {
        V4 { b, fma }
    }

    /// Whether [`V4::mul_add`] emits a fused instruction.
    pub fn fused(&self) -> bool {
        self.fma
    }

    /// `[x; 4]` as a constant-pool vector (loads sink into instructions).
    pub fn splat(&mut self, x: f32) -> Value {
        self.const_bits(types::F32X4, x.to_bits())
    }

    /// `[x; 4]` as an `i32x4` constant.
    pub fn isplat(&mut self, x: i32) -> Value {
        self.const_bits(types::I32X4, x as u32)
    }

    fn const_bits(&mut self, ty: types::Type, bits: u32) -> Value {
        let bytes: Vec<u8> = (0..4).flat_map(|_| bits.to_le_bytes()).collect();
        let c = self.b.func.dfg.constants.insert(ConstantData::from(bytes));
        self.b.ins().vconst(ty, c)
    }

    /// `a * b + c`, fused when allowed.
    pub fn mul_add(&mut self, a: Value, b: Value, c: Value) -> Value {
        if self.fma {
            self.b.ins().fma(a, b, c)
        } else {
            let p = self.b.ins().fmul(a, b);
            self.b.ins().fadd(c, p)
        }
    }

    /// `a + b`.
    pub fn add(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fadd(a, b)
    }

    /// `a - b`.
    pub fn sub(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fsub(a, b)
    }

    /// `a * b`.
    pub fn mul(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fmul(a, b)
    }

    /// `a / b`.
    pub fn div(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fdiv(a, b)
    }

    /// `a / d` for a constant divisor: a multiply by `1/d` where `d` is a power of two
    /// (exact, so the same quotient rounded the same way, bit for bit; `divps` costs
    /// several times a `mulps` in throughput), else the division.
    pub fn div_by(&mut self, a: Value, d: f32) -> Value {
        let (m, e) = (d.abs().to_bits() & 0x007f_ffff, (d.abs().to_bits() >> 23) & 0xff);
        // A normal power of two whose reciprocal is normal too.
        if m == 0 && (1..=253).contains(&e) {
            let r = self.splat(1.0 / d);
            self.mul(a, r)
        } else {
            let d = self.splat(d);
            self.div(a, d)
        }
    }

    /// Lane-wise minimum (`minps`); returns `b` where either is NaN.
    pub fn min(&mut self, a: Value, b: Value) -> Value {
        let m = self.lt_mask(a, b);
        self.b.ins().bitselect(m, a, b)
    }

    /// Lane-wise maximum (`maxps`); returns `b` where either is NaN.
    pub fn max(&mut self, a: Value, b: Value) -> Value {
        let m = self.lt_mask(b, a);
        self.b.ins().bitselect(m, a, b)
    }

    /// `x` clamped into `[lo, hi]`; a NaN `x` stays NaN (it is passed as
    /// the second operand of `maxps`/`minps`, which wins on NaN).
    pub fn clamp(&mut self, x: Value, lo: f32, hi: f32) -> Value {
        let (l, h) = (self.splat(lo), self.splat(hi));
        let x = self.max(l, x);
        self.min(h, x)
    }

    /// All-ones lanes where `a < b`, as an `f32x4` bit mask.
    pub fn lt_mask(&mut self, a: Value, b: Value) -> Value {
        let m = self.b.ins().fcmp(FloatCC::LessThan, a, b);
        self.to_f32(m)
    }

    /// Per-lane `mask ? t : f` for an all-ones/all-zeros `f32x4` mask.
    pub fn select(&mut self, mask: Value, t: Value, f: Value) -> Value {
        self.b.ins().bitselect(mask, t, f)
    }

    /// `|x|` (clears the sign bit).
    pub fn abs(&mut self, x: Value) -> Value {
        self.b.ins().fabs(x)
    }

    /// Reinterprets `f32x4` bits as `i32x4`.
    pub fn to_i32(&mut self, x: Value) -> Value {
        self.b.ins().bitcast(types::I32X4, MemFlagsData::new(), x)
    }

    /// Reinterprets `i32x4` bits as `f32x4`.
    pub fn to_f32(&mut self, x: Value) -> Value {
        self.b.ins().bitcast(types::F32X4, MemFlagsData::new(), x)
    }

    /// Loads 4 floats from `ptr + off` bytes.
    pub fn load(&mut self, ptr: Value, off: i32) -> Value {
        self.b.ins().load(types::F32X4, mem(), ptr, off)
    }

    /// Stores 4 floats to `ptr + off` bytes.
    pub fn store(&mut self, v: Value, ptr: Value, off: i32) {
        self.b.ins().store(mem(), v, ptr, off);
    }

    /// Loads one float from `ptr + off` and broadcasts it (`vbroadcastss`).
    pub fn load_splat(&mut self, ptr: Value, off: i32) -> Value {
        let s = self.b.ins().load(types::F32, mem(), ptr, off);
        self.b.ins().splat(types::F32X4, s)
    }

    /// Picks lanes of `a` (0–3) and `b` (4–7) into one f32x4.
    pub fn shuffle(&mut self, a: Value, b: Value, lanes: [u8; 4]) -> Value {
        let bytes: Vec<u8> = lanes.iter().flat_map(|&l| (0..4).map(move |k| l * 4 + k)).collect();
        let imm = self.b.func.dfg.immediates.push(ConstantData::from(bytes));
        let ab = self.b.ins().bitcast(types::I8X16, lanes_le(), a);
        let bb = self.b.ins().bitcast(types::I8X16, lanes_le(), b);
        let r = self.b.ins().shuffle(ab, bb, imm);
        self.b.ins().bitcast(types::F32X4, lanes_le(), r)
    }

    /// The 4×4 transpose of `rows`: vector j of the result holds lane j of each row.
    pub fn transpose4(&mut self, rows: [Value; 4]) -> [Value; 4] {
        let t0 = self.shuffle(rows[0], rows[1], [0, 4, 1, 5]);
        let t1 = self.shuffle(rows[0], rows[1], [2, 6, 3, 7]);
        let t2 = self.shuffle(rows[2], rows[3], [0, 4, 1, 5]);
        let t3 = self.shuffle(rows[2], rows[3], [2, 6, 3, 7]);
        [
            self.shuffle(t0, t2, [0, 1, 4, 5]),
            self.shuffle(t0, t2, [2, 3, 6, 7]),
            self.shuffle(t1, t3, [0, 1, 4, 5]),
            self.shuffle(t1, t3, [2, 3, 6, 7]),
        ]
    }

    /// Adds a byte offset to a pointer.
    pub fn offset(&mut self, ptr: Value, bytes: i64) -> Value {
        if bytes == 0 {
            ptr
        } else {
            self.b.ins().iadd_imm_s(ptr, bytes)
        }
    }
}
