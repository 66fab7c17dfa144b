// ctorch: a thin C ABI over libtorch (ATen + autograd).
//
// Conventions: every function that can fail returns 0 on success and non-zero on failure; the message of the last
// failure on this thread is `ct_last_error()`. Tensors are opaque owned handles: every `ct_tensor *out` result must be
// released with `ct_free`. Optional tensor arguments may be NULL. Shapes are (const int64_t *, int ndim).
// dtype codes are c10::ScalarType values (Float = 6, BFloat16 = 15, Long = 4, Bool = 11, ...);
// device is (type, index) with type 0 = CPU, 1 = CUDA, 2 = meta (shapes, no data).
#pragma once
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef struct ct_tensor_s *ct_tensor;
typedef struct ct_generator_s *ct_generator;

// ---- errors, runtime --------------------------------------------------------------------------------------------
const char *ct_last_error(void);
const char *ct_version(void);
int ct_set_num_threads(int n);
/// glibc malloc for training loops (mallopt: mmap threshold 32 MB, trim threshold 1 GB, top pad 512 MB). 0 on success.
int ct_keep_freed_memory(void);
int ct_get_num_threads(void);
int ct_cuda_is_available(void);
int ct_manual_seed(uint64_t seed);

// ---- generators ----------------------------------------------------------------------------------------------------
int ct_generator_new(uint64_t seed, ct_generator *out);
void ct_generator_free(ct_generator g);
int ct_generator_get_state(ct_generator g, ct_tensor *out);   // uint8 tensor
int ct_generator_set_state(ct_generator g, ct_tensor state);

// ---- lifetime, queries -------------------------------------------------------------------------------------------
void ct_free(ct_tensor t);
/// Number of tensor handles not yet freed (all threads).
int64_t ct_live_tensors(void);
int ct_dim(ct_tensor t);
int ct_shape(ct_tensor t, int64_t *out, int cap);             // returns ndim
int ct_strides(ct_tensor t, int64_t *out, int cap);
int64_t ct_numel(ct_tensor t);
int ct_dtype(ct_tensor t);
int ct_device(ct_tensor t, int *type, int *index);
int ct_is_contiguous(ct_tensor t);
int ct_defined(ct_tensor t);
int ct_item_double(ct_tensor t, double *out);
int ct_item_int64(ct_tensor t, int64_t *out);
int ct_same_storage(ct_tensor a, ct_tensor b);
int64_t ct_element_size(int dtype);

// ---- creation ----------------------------------------------------------------------------------------------------
int ct_empty(const int64_t *shape, int ndim, int dtype, int dev_type, int dev_index, ct_tensor *out);
int ct_zeros(const int64_t *shape, int ndim, int dtype, int dev_type, int dev_index, ct_tensor *out);
int ct_ones(const int64_t *shape, int ndim, int dtype, int dev_type, int dev_index, ct_tensor *out);
int ct_full(const int64_t *shape, int ndim, double value, int dtype, int dev_type, int dev_index, ct_tensor *out);
int ct_randn(const int64_t *shape, int ndim, int dtype, ct_generator g, ct_tensor *out);
int ct_rand(const int64_t *shape, int ndim, int dtype, ct_generator g, ct_tensor *out);
int ct_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, ct_generator g, ct_tensor *out);
int ct_randperm(int64_t n, ct_generator g, ct_tensor *out);
int ct_arange(double start, double end, double step, int dtype, ct_tensor *out);
int ct_linspace(double start, double end, int64_t steps, int dtype, ct_tensor *out);
/// Zero-copy: wraps `data`; `deleter(ctx)` runs when libtorch releases the memory.
int ct_from_blob(void *data, const int64_t *shape, int ndim, int dtype, void (*deleter)(void *), void *ctx,
                 ct_tensor *out);
/// Copies `nbytes` from `data` into a new CPU tensor (nbytes must equal numel × element size).
int ct_from_data(const void *data, size_t nbytes, const int64_t *shape, int ndim, int dtype, ct_tensor *out);
/// Copies the tensor's elements (made contiguous, on CPU) into `dst` (nbytes must match).
int ct_copy_to_buffer(ct_tensor t, void *dst, size_t nbytes);
/// Pointer to the first element of a CPU tensor (NULL if empty).
void *ct_data_ptr(ct_tensor t);

// ---- conversion, copies ---------------------------------------------------------------------------------------------
int ct_to_dtype(ct_tensor t, int dtype, ct_tensor *out);
int ct_to_device(ct_tensor t, int dev_type, int dev_index, ct_tensor *out);
/// `t.to(device, non_blocking=...)`: asynchronous host→CUDA copies from pinned memory.
int ct_to_device_async(ct_tensor t, int dev_type, int dev_index, int non_blocking, ct_tensor *out);
/// `t.pin_memory()` (needs a CUDA libtorch); ct_is_pinned is 1 for page-locked host tensors.
int ct_pin_memory(ct_tensor t, ct_tensor *out);
int ct_is_pinned(ct_tensor t);
/// Points handle `t` at `src`'s tensor (every holder of `t` sees it): moves a module's tensors between devices in
/// place, where `set_data` refuses (meta). `requires_grad` is set as given; gradients are not carried.
int ct_rebind(ct_tensor t, ct_tensor src, int requires_grad);
int ct_contiguous(ct_tensor t, ct_tensor *out);
int ct_clone(ct_tensor t, ct_tensor *out);
int ct_detach(ct_tensor t, ct_tensor *out);
int ct_alias(ct_tensor t, ct_tensor *out);                    // a new handle to the same tensor
int ct_copy_(ct_tensor dst, ct_tensor src);
int ct_fill_(ct_tensor t, double value);
int ct_zero_(ct_tensor t);
int ct_uniform_(ct_tensor t, double from, double to, ct_generator g);
int ct_normal_(ct_tensor t, double mean, double std, ct_generator g);

// ---- views and indexing -------------------------------------------------------------------------------------------
int ct_reshape(ct_tensor t, const int64_t *shape, int ndim, ct_tensor *out);
int ct_view(ct_tensor t, const int64_t *shape, int ndim, ct_tensor *out);
int ct_permute(ct_tensor t, const int64_t *dims, int ndim, ct_tensor *out);
int ct_transpose(ct_tensor t, int64_t d0, int64_t d1, ct_tensor *out);
int ct_slice(ct_tensor t, int64_t dim, int64_t start, int64_t end, int64_t step, ct_tensor *out);
int ct_select(ct_tensor t, int64_t dim, int64_t index, ct_tensor *out);
int ct_index_select(ct_tensor t, int64_t dim, ct_tensor index, ct_tensor *out);
int ct_gather(ct_tensor t, int64_t dim, ct_tensor index, ct_tensor *out);
int ct_scatter(ct_tensor t, int64_t dim, ct_tensor index, ct_tensor src, ct_tensor *out);
int ct_masked_fill(ct_tensor t, ct_tensor mask, double value, ct_tensor *out);
int ct_where(ct_tensor cond, ct_tensor a, ct_tensor b, ct_tensor *out);
int ct_cat(const ct_tensor *ts, int n, int64_t dim, ct_tensor *out);
int ct_stack(const ct_tensor *ts, int n, int64_t dim, ct_tensor *out);
int ct_expand(ct_tensor t, const int64_t *shape, int ndim, ct_tensor *out);
int ct_repeat(ct_tensor t, const int64_t *reps, int ndim, ct_tensor *out);
int ct_repeat_interleave(ct_tensor t, int64_t repeats, int64_t dim, ct_tensor *out);
int ct_flatten(ct_tensor t, int64_t start, int64_t end, ct_tensor *out);
int ct_unsqueeze(ct_tensor t, int64_t dim, ct_tensor *out);
int ct_squeeze(ct_tensor t, int64_t dim, ct_tensor *out);
int ct_flip(ct_tensor t, const int64_t *dims, int ndim, ct_tensor *out);
int ct_roll(ct_tensor t, int64_t shift, int64_t dim, ct_tensor *out);

// ---- elementwise --------------------------------------------------------------------------------------------------
enum ct_binary { CT_ADD = 0, CT_SUB, CT_MUL, CT_DIV, CT_POW, CT_MAXIMUM, CT_MINIMUM, CT_EQ, CT_NE, CT_LT, CT_LE, CT_GT,
                 CT_GE,
                 CT_LOGICAL_AND, CT_LOGICAL_OR };
enum ct_unary { CT_NEG = 0, CT_EXP, CT_LOG, CT_SQRT, CT_RSQRT, CT_ABS, CT_SIN, CT_COS, CT_TANH, CT_SIGMOID, CT_RELU,
                CT_FLOOR, CT_CEIL, CT_ROUND, CT_ERFINV, CT_LOGICAL_NOT, CT_RECIPROCAL, CT_SQUARE, CT_SIGN };
int ct_binary(int op, ct_tensor a, ct_tensor b, ct_tensor *out);
int ct_binary_scalar(int op, ct_tensor a, double b, ct_tensor *out);
int ct_binary_(int op, ct_tensor a, ct_tensor b);               // in place: a = a op b (arithmetic ops only)
int ct_binary_scalar_(int op, ct_tensor a, double b);
int ct_add_scaled_(ct_tensor a, ct_tensor b, double alpha);     // a += alpha * b
int ct_unary(int op, ct_tensor a, ct_tensor *out);
int ct_unary_(int op, ct_tensor a);
int ct_clamp(ct_tensor a, double lo, double hi, int has_lo, int has_hi, ct_tensor *out);
int ct_clamp_(ct_tensor a, double lo, double hi, int has_lo, int has_hi);
int ct_lerp(ct_tensor a, ct_tensor b, double w, ct_tensor *out);

// ---- reductions ----------------------------------------------------------------------------------------------------
int ct_sum(ct_tensor t, const int64_t *dims, int ndims, int keepdim, ct_tensor *out);   // ndims 0 = all
int ct_mean(ct_tensor t, const int64_t *dims, int ndims, int keepdim, ct_tensor *out);
int ct_var(ct_tensor t, const int64_t *dims, int ndims, int64_t correction, int keepdim, ct_tensor *out);
int ct_amax(ct_tensor t, const int64_t *dims, int ndims, int keepdim, ct_tensor *out);
int ct_amin(ct_tensor t, const int64_t *dims, int ndims, int keepdim, ct_tensor *out);
int ct_argmax(ct_tensor t, int64_t dim, int keepdim, ct_tensor *out);
int ct_argsort(ct_tensor t, int64_t dim, int descending, int stable, ct_tensor *out);
int ct_topk(ct_tensor t, int64_t k, int64_t dim, int largest, ct_tensor *values, ct_tensor *indices);
int ct_vector_norm(ct_tensor t, double ord, ct_tensor *out);
int ct_cumsum(ct_tensor t, int64_t dim, ct_tensor *out);

// ---- linear algebra, nn functional ----------------------------------------------------------------------------------
int ct_matmul(ct_tensor a, ct_tensor b, ct_tensor *out);
int ct_bmm(ct_tensor a, ct_tensor b, ct_tensor *out);
int ct_baddbmm(ct_tensor self, ct_tensor a, ct_tensor b, double beta, double alpha, ct_tensor *out);
int ct_linear(ct_tensor x, ct_tensor w, ct_tensor b, ct_tensor *out);
/// The GEMM library of fp32 ct_linear outside autocast: 0 libtorch (`at::linear`, MKL), 1 oneDNN (forward and input
/// gradient; weight gradient `mm`; the default on AVX-512 CPUs), 2 OpenBLAS (all three; the default on others).
/// Returns the previous one, -1 for an unknown code (CPUKernels/linear.cpp).
int ct_set_fp32_linear(int backend);
int ct_fp32_linear(void);
/// The library of bf16 ct_linear (bf16 inputs, or autocast to bf16): 0 libtorch (`at::linear`, oneDNN; the default
/// on CPUs with AVX-512 BF16 or AMX), 2 OpenBLAS's sgemm on the values widened to fp32, rounded to bf16 (the default
/// on others). Returns the previous one, -1 for an unknown code.
int ct_set_bf16_linear(int backend);
int ct_bf16_linear(void);
/// The bf16 ⇄ fp32 conversions of those linears (CPUKernels/bf16_convert.cpp) run AVX2 code where the CPU has it; 0
/// here runs their scalar code (that of CPUs without AVX2) instead, with the same results. Returns the previous
/// setting; ct_bf16_convert_simd is 1 if the AVX2 code runs.
int ct_set_bf16_convert_simd(int on);
int ct_bf16_convert_simd(void);
/// ct_linear on `backend` (as ct_set_fp32_linear's codes; -1 the process-wide one) for inputs that it takes.
int ct_linear_on(int backend, ct_tensor x, ct_tensor w, ct_tensor b, ct_tensor *out);
/// The backend ct_linear(x, w, b) would run (0 for inputs that stay on libtorch: other dtypes and layouts).
int ct_linear_backend(ct_tensor x, ct_tensor w, ct_tensor b);
int ct_conv3d(ct_tensor x, ct_tensor w, ct_tensor b, const int64_t *stride, const int64_t *padding, ct_tensor *out);
int ct_conv2d(ct_tensor x, ct_tensor w, ct_tensor b, const int64_t *stride, const int64_t *padding, ct_tensor *out);
int ct_layer_norm(ct_tensor x, const int64_t *shape, int ndim, ct_tensor w, ct_tensor b, double eps, ct_tensor *out);
int ct_gelu(ct_tensor x, int tanh_approx, ct_tensor *out);
int ct_softmax(ct_tensor x, int64_t dim, ct_tensor *out);
int ct_log_softmax(ct_tensor x, int64_t dim, ct_tensor *out);
int ct_dropout(ct_tensor x, double p, int train, ct_tensor *out);
int ct_sdpa(ct_tensor q, ct_tensor k, ct_tensor v, ct_tensor mask, double dropout_p, int is_causal, double scale,
            int has_scale, ct_tensor *out);
/// ct_sdpa without mask, dropout or causal masking runs stmae's fused kernels per this mode: bf16 [B, H, L, 32|64|128]
/// inputs on AVX-512 BF16 CPUs (CPUKernels/attention.cpp), fp32 [B, H, L, 32|64|80|128] on AVX2/FMA CPUs
/// (attention_fp32.cpp). Mode 1: wherever they take the inputs; 0: never; -1 (the default): where they are preferred
/// on this CPU (ct_fused_attention_preferred). Returns the previous mode.
int ct_set_fused_attention(int mode);
int ct_fused_attention_mode(void);
/// 1 if this CPU runs the fused kernel of this dtype (code as ct_dtype).
int ct_fused_attention_available(int dtype);
/// 1 if it runs it and the kernel is faster there than libtorch's flash attention (not fp32 on AMX-BF16 CPUs).
int ct_fused_attention_preferred(int dtype);
/// 1 if ct_sdpa(q, k, v) without mask/dropout/causal would run a fused kernel (bf16 on a CPU without AVX-512 BF16: the
/// fp32 one on widened copies).
int ct_fused_attention_takes(ct_tensor q, ct_tensor k, ct_tensor v);
// mode 0 nearest, 1 (bi/tri)linear, 2 bicubic
int ct_interpolate(ct_tensor x, const int64_t *size, int ndim, int mode, int align_corners, ct_tensor *out);
int ct_one_hot(ct_tensor idx, int64_t num_classes, ct_tensor *out);
/// reduction: 0 none, 1 mean, 2 sum (as at::Reduction).
int ct_mse_loss(ct_tensor x, ct_tensor y, int reduction, ct_tensor *out);
/// Class-index (int64 [N]) or probability (float [N, C]) targets.
int ct_cross_entropy(ct_tensor logits, ct_tensor target, int reduction, double label_smoothing, ct_tensor *out);

// ---- autograd ------------------------------------------------------------------------------------------------------
int ct_set_requires_grad(ct_tensor t, int flag);
int ct_requires_grad(ct_tensor t);
int ct_is_leaf(ct_tensor t);
/// *out = NULL when the gradient is undefined.
int ct_grad(ct_tensor t, ct_tensor *out);
int ct_set_grad(ct_tensor t, ct_tensor g);                       // g NULL clears (.grad = None)
/// `t.data = src` (PyTorch's `set_data`): t keeps its identity and autograd flags, takes src's storage and dtype.
int ct_set_data(ct_tensor t, ct_tensor src);
int ct_backward(ct_tensor t, ct_tensor grad, int retain_graph);
int ct_grad_mode_enabled(void);
void ct_set_grad_mode(int enabled);
/// Autocast on `dev_type` to `dtype` (python `torch.autocast` enter/exit). `prev` receives the state to restore.
int ct_autocast_enter(int dev_type, int dtype, int64_t *prev);
int ct_autocast_exit(int dev_type, int64_t prev);
int ct_autocast_enabled(int dev_type);
/// Mixed precision: a post-accumulate-grad hook on leaf `copy` (a low-precision copy of `master`): as soon as
/// backward has accumulated copy.grad, it is added into master.grad (or becomes it, converted to master's dtype,
/// contiguous, when master has none) and copy.grad is cleared.
int ct_set_grad_sink(ct_tensor copy, ct_tensor master);
/// Records every op (CPU time, shapes) until `ct_trace_stop`, which writes a Chrome trace (JSON) to `path`.
int ct_trace_start(const char *path);
int ct_trace_stop(void);

// ---- optimisation --------------------------------------------------------------------------------------------------
/// `torch._fused_adamw_` over one parameter group; `steps` are float scalar tensors, incremented here by 1 first.
int ct_fused_adamw(const ct_tensor *params, const ct_tensor *grads, const ct_tensor *exp_avgs,
                   const ct_tensor *exp_avg_sqs, const ct_tensor *steps, int n, double lr, double beta1, double beta2,
                   double weight_decay, double eps, int maximize);
/// Total 2-norm of the defined gradients; scales them by max_norm/(total+1e-6) when above
/// (torch.nn.utils.clip_grad_norm_).
int ct_clip_grad_norm(const ct_tensor *grads, int n, double max_norm, double *total_norm);
int ct_foreach_zero_(const ct_tensor *ts, int n);
int ct_foreach_mul_scalar_(const ct_tensor *ts, int n, double s);
/// `torch._amp_foreach_non_finite_check_and_unscale_`: grads *= inv_scale (float []); found_inf (float []) = 1 if any
/// is inf/NaN.
int ct_amp_unscale_(const ct_tensor *grads, int n, ct_tensor found_inf, ct_tensor inv_scale);
/// `torch._amp_update_scale_`: scale (float []) and growth_tracker (int32 []) updated in place from found_inf.
int ct_amp_update_scale_(ct_tensor scale, ct_tensor growth_tracker, ct_tensor found_inf, double growth_factor,
                         double backoff_factor, int64_t growth_interval);

#ifdef __cplusplus
}
#endif
