//! Counted loops in CLIF with loop-carried values passed as block params.
//!
//! Consumes: a builder, a trip bound (`i64` value), a step, initial values of
//! the loop-carried state, and a body closure. Produces: the values of the
//! carried state after the loop, in a fresh block where emission continues.
//! Guarantees: a bound `<= 0` runs zero iterations; carried values travel
//! as block parameters of the loop head.
//!
//! Why the test is at the top (one extra `jmp` per iteration): the values a
//! body computes are then used exactly once, by the back edge, while code
//! after the loop reads the head's parameters. A bottom-tested loop would
//! pass each value to both the back edge and the exit; Cranelift's lowering
//! then counts every instruction feeding it as multiply used and refuses to
//! fold single-use loads into their users (e.g. `vbroadcastss` from memory).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, BlockArg, InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;

use crate::codegen::error::Result;

/// Emits `for i in (0..n).step_by(step) { state = body(i, state) }`.
///
/// The body runs while `i < n` (signed), with `i` = 0, step, 2·step ...; it
/// must return as many values, of the same types, as `init`.
pub fn counted_loop<F>(b: &mut FunctionBuilder, n: Value, step: i64, init: &[Value], body: F) -> Result<Vec<Value>>
where
    F: FnOnce(&mut FunctionBuilder, Value, &[Value]) -> Result<Vec<Value>>,
{
    let tys: Vec<_> = init.iter().map(|v| b.func.dfg.value_type(*v)).collect();
    let head = b.create_block();
    let body_block = b.create_block();
    let exit = b.create_block();
    let i = b.append_block_param(head, types::I64);
    let state: Vec<Value> = tys.iter().map(|t| b.append_block_param(head, *t)).collect();

    let zero = b.ins().iconst(types::I64, 0);
    b.ins().jump(head, &args(std::iter::once(zero).chain(init.iter().copied())));

    b.switch_to_block(head);
    let more = b.ins().icmp(IntCC::SignedLessThan, i, n);
    b.ins().brif(more, body_block, &[], exit, &[]);

    b.switch_to_block(body_block);
    let next = body(b, i, &state)?;
    let i2 = b.ins().iadd_imm_s(i, step);
    b.ins().jump(head, &args(std::iter::once(i2).chain(next.iter().copied())));

    b.switch_to_block(exit);
    Ok(state)
}

/// Emits a loop whose body only has side effects.
pub fn for_each<F>(b: &mut FunctionBuilder, n: Value, step: i64, body: F) -> Result<()>
where
    F: FnOnce(&mut FunctionBuilder, Value) -> Result<()>,
{
    counted_loop(b, n, step, &[], |b, i, _| {
        body(b, i)?;
        Ok(Vec::new())
    })?;
    Ok(())
}

fn args(vals: impl Iterator<Item = Value>) -> Vec<BlockArg> {
    vals.map(BlockArg::from).collect()
}
