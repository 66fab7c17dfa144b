import CTorch

/// The nn functional ops (`torch.nn.functional`): free functions over `Tensor`.

/// `x @ weight.T + bias`; x: [*, in], weight: [out, in]. Dense fp32 outside autocast runs on `backend`
/// (`Runtime.fp32Linear` when nil).
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, backend: LinearBackend? = nil) throws -> Tensor {
    try make("linear of \(x.shape) with weight \(weight.shape)") {
        ct_linear_on(backend?.code ?? -1, x.raw, weight.raw, bias?.raw, $0)
    }
}
/// x: [N, C, T, H, W], weight: [O, C, kt, kh, kw].
public func conv3d(
    _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: [Int] = [1, 1, 1], padding: [Int] = [0, 0, 0]
) throws -> Tensor {
    guard stride.count == 3, padding.count == 3 else { throw TorchError("conv3d: stride and padding need 3 values") }
    let s = stride.map(Int64.init), p = padding.map(Int64.init)
    return try make("conv3d of \(x.shape) with weight \(weight.shape)") {
        ct_conv3d(x.raw, weight.raw, bias?.raw, s, p, $0)
    }
}
/// x: [N, C, H, W], weight: [O, C, kh, kw].
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: [Int] = [1, 1], padding: [Int] = [0, 0])
    throws -> Tensor
{
    guard stride.count == 2, padding.count == 2 else { throw TorchError("conv2d: stride and padding need 2 values") }
    let s = stride.map(Int64.init), p = padding.map(Int64.init)
    return try make("conv2d of \(x.shape) with weight \(weight.shape)") {
        ct_conv2d(x.raw, weight.raw, bias?.raw, s, p, $0)
    }
}
public func layerNorm(_ x: Tensor, normalizedShape: [Int], weight: Tensor?, bias: Tensor?, eps: Double = 1e-5) throws
    -> Tensor
{
    let s = normalizedShape.map(Int64.init)
    return try make("layer_norm of \(x.shape) over \(normalizedShape)") {
        ct_layer_norm(x.raw, s, Int32(s.count), weight?.raw, bias?.raw, eps, $0)
    }
}
/// GELU; exact (erf) unless `approximateTanh`.
public func gelu(_ x: Tensor, approximateTanh: Bool = false) throws -> Tensor {
    try make("gelu") { ct_gelu(x.raw, approximateTanh ? 1 : 0, $0) }
}
public func softmax(_ x: Tensor, dim: Int) throws -> Tensor {
    try make("softmax") { ct_softmax(x.raw, Int64(dim), $0) }
}
public func logSoftmax(_ x: Tensor, dim: Int) throws -> Tensor {
    try make("log_softmax") { ct_log_softmax(x.raw, Int64(dim), $0) }
}
public func dropout(_ x: Tensor, p: Double, training: Bool) throws -> Tensor {
    if p == 0 || !training { return x }
    return try make("dropout") { ct_dropout(x.raw, p, 1, $0) }
}
/// Fused attention; q, k, v: [N, heads, L, head_dim]. `scale` defaults to 1/sqrt(head_dim).
public func scaledDotProductAttention(
    _ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor? = nil, dropoutP: Double = 0,
    isCausal: Bool = false, scale: Double? = nil
) throws -> Tensor {
    try make("scaled_dot_product_attention of \(q.shape), \(k.shape), \(v.shape)") {
        ct_sdpa(q.raw, k.raw, v.raw, mask?.raw, dropoutP, isCausal ? 1 : 0, scale ?? 0, scale == nil ? 0 : 1, $0)
    }
}
public enum InterpolationMode: Int32 { case nearest = 0, linear = 1, bicubic = 2 }
/// Resizes the trailing 1–3 spatial dims of x: [N, C, *spatial] to `size`.
public func interpolate(_ x: Tensor, size: [Int], mode: InterpolationMode, alignCorners: Bool = false) throws -> Tensor
{
    let s = size.map(Int64.init)
    return try make("interpolate \(x.shape) to \(size)") {
        ct_interpolate(x.raw, s, Int32(s.count), mode.rawValue, alignCorners ? 1 : 0, $0)
    }
}
public func oneHot(_ index: Tensor, numClasses: Int) throws -> Tensor {
    try make("one_hot") { ct_one_hot(index.raw, Int64(numClasses), $0) }
}
public enum Reduction: Int32 { case none = 0, mean = 1, sum = 2 }
public func mseLoss(_ x: Tensor, _ y: Tensor, reduction: Reduction = .mean) throws -> Tensor {
    try make("mse_loss of \(x.shape) and \(y.shape)") { ct_mse_loss(x.raw, y.raw, reduction.rawValue, $0) }
}
/// Cross-entropy with class-index (int64 [N]) or probability ([N, C]) targets, optional label smoothing.
public func crossEntropy(_ logits: Tensor, _ target: Tensor, labelSmoothing: Double = 0, reduction: Reduction = .mean)
    throws -> Tensor
{
    try make("cross_entropy of \(logits.shape) and target \(target.shape)") {
        ct_cross_entropy(logits.raw, target.raw, reduction.rawValue, labelSmoothing, $0)
    }
}
