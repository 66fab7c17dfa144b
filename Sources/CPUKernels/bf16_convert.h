// bf16 on CPUs without bf16 dot products (bf16_convert.cpp): the bf16 ⇄ fp32 conversions of the widened linears.
// Results are contiguous; values match libtorch's `.to()` bit for bit (NaN: some NaN).
#pragma once
#include <ATen/ATen.h>

namespace stmae::cpu::bf16 {
/// bf16 → fp32 (exact). The fp32 results go into `into` when given (contiguous fp32 of at least t.numel() elements;
/// the result is a view of its start with t's shape), else into a new tensor.
at::Tensor widen(const at::Tensor &t, const at::Tensor &into = {});
/// fp32 → bf16, as `t.to(kBFloat16)`; into `into` when given (contiguous bf16 of t's numel), else a new tensor.
at::Tensor narrow(const at::Tensor &t, const at::Tensor &into = {});
/// fp32 → fp32 holding the nearest bf16, as `t.to(kBFloat16).to(kFloat)` in one pass.
at::Tensor rounded_copy(const at::Tensor &t, const at::Tensor &into = {});
/// `rounded_copy` in place (contiguous fp32).
at::Tensor &round_(at::Tensor &t);
/// The bf16 values of t as fp32: `widen` for bf16, `rounded_copy` for fp32.
at::Tensor values(const at::Tensor &t, const at::Tensor &into = {});
}  // namespace stmae::cpu::bf16
