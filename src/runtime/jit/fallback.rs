//! The reference implementation behind the compiled-kernel ABI: it gathers strided
//! operands into dense copies, runs the reference kernel, applies the fused epilogue
//! (with the reference executor's formulas) and scatters the results back. The JIT uses it for any kernel the code generator
//! does not provide, and the tests use it to check planning, fusion, memory sharing
//! and threading independently of generated code.

use crate::codegen::kernels::CompiledKernel;
use crate::runtime::reference::{act_slope, act_value, execute, In, KernelCtx, Out};
use crate::sched::{Fused, Operand, StepSpec};

pub struct ReferenceKernel {
    spec: StepSpec,
}

impl ReferenceKernel {
    pub fn new(spec: StepSpec) -> ReferenceKernel {
        ReferenceKernel { spec }
    }
}

/// Copies a possibly strided operand into a dense vector.
unsafe fn gather(op: &Operand, p: *const f32) -> Vec<f32> {
    if op.is_contiguous() {
        return std::slice::from_raw_parts(p, op.len()).to_vec();
    }
    let sample = op.sample_len();
    (0..op.dims[0])
        .flat_map(|i| std::slice::from_raw_parts(p.add(i * op.batch_stride), sample).iter().copied())
        .collect()
}

unsafe fn scatter(op: &Operand, p: *mut f32, v: &[f32]) {
    if op.is_contiguous() {
        std::slice::from_raw_parts_mut(p, v.len()).copy_from_slice(v);
        return;
    }
    for (i, chunk) in v.chunks(op.sample_len()).enumerate() {
        std::slice::from_raw_parts_mut(p.add(i * op.batch_stride), chunk.len()).copy_from_slice(chunk);
    }
}

impl CompiledKernel for ReferenceKernel {
    fn parts(&self) -> usize {
        1
    }

    unsafe fn run(&self, ptrs: &[*mut f32], _part: usize, _scratch: &mut [f32], _workspace: *mut f32) {
        let s = &self.spec;
        let (ni, no) = (s.inputs.len(), s.outputs.len());
        let ins: Vec<Vec<f32>> = s.inputs.iter().zip(ptrs).map(|(op, &p)| gather(op, p)).collect();
        let extra: Vec<Vec<f32>> = s.extra.iter().zip(&ptrs[ni + no..]).map(|(op, &p)| gather(op, p)).collect();
        // In/out operands (batch-norm running statistics) start from their current values.
        let mut outs: Vec<Vec<f32>> = s.outputs.iter().zip(&ptrs[ni..]).map(|(op, &p)| gather(op, p)).collect();
        let previous = outs.first().cloned();
        let in_views: Vec<In<f32>> = ins.iter().zip(&s.inputs).map(|(d, op)| In { data: d, dims: &op.dims }).collect();
        {
            let mut out_views: Vec<Out<f32>> =
                outs.iter_mut().zip(&s.outputs).map(|(d, op)| Out { data: d, dims: &op.dims }).collect();
            execute(&s.kernel, &in_views, &mut out_views, false, &KernelCtx::default());
        }
        if let Some(y) = outs.first_mut() {
            for f in &s.epilogue {
                // The reference executor's formulas, as its Act, Scale, Add and
                // ActBackward kernels compute them.
                match f {
                    Fused::Act(a) => y.iter_mut().for_each(|v| *v = act_value(a, *v)),
                    Fused::Scale(k) => y.iter_mut().for_each(|v| *v *= *k as f32),
                    Fused::AddOperand(k) => y.iter_mut().zip(&extra[*k]).for_each(|(v, e)| *v += e),
                    Fused::MulActGrad(a, k) => y.iter_mut().zip(&extra[*k]).for_each(|(v, z)| *v *= act_slope(a, *z)),
                }
            }
            if s.accumulate {
                y.iter_mut().zip(previous.as_deref().unwrap_or(&[])).for_each(|(v, p)| *v += p);
            }
        }
        for ((op, &p), v) in s.outputs.iter().zip(&ptrs[ni..]).zip(&outs) {
            scatter(op, p, v);
        }
    }

    fn describe(&self) -> String {
        format!("{} (reference)", self.spec.kernel.name())
    }
}
