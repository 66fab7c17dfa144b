import CTorch

/// Shape changes, views, indexing and dtype/device conversion.
extension Tensor {
    private func ints(_ a: [Int]) -> [Int64] { a.map(Int64.init) }

    public func reshape(_ shape: [Int]) throws -> Tensor {
        let s = ints(shape)
        return try make("reshape \(self.shape) to \(shape)") { ct_reshape(raw, s, Int32(s.count), $0) }
    }
    public func view(_ shape: [Int]) throws -> Tensor {
        let s = ints(shape)
        return try make("view \(self.shape) as \(shape)") { ct_view(raw, s, Int32(s.count), $0) }
    }
    public func permute(_ dims: [Int]) throws -> Tensor {
        let s = ints(dims)
        return try make("permute \(shape) by \(dims)") { ct_permute(raw, s, Int32(s.count), $0) }
    }
    public func permute(_ dims: Int...) throws -> Tensor { try permute(dims) }
    public func transpose(_ d0: Int, _ d1: Int) throws -> Tensor {
        try make("transpose(\(d0), \(d1)) of \(shape)") { ct_transpose(raw, Int64(d0), Int64(d1), $0) }
    }
    /// `self[..., start:end:step, ...]` along `dim`; `end` nil = to the end.
    public func slice(dim: Int, start: Int = 0, end: Int? = nil, step: Int = 1) throws -> Tensor {
        try make("slice dim \(dim) of \(shape)") {
            ct_slice(raw, Int64(dim), Int64(start), Int64(end ?? Int(Int64.max)), Int64(step), $0)
        }
    }
    /// `self.select(dim, index)`: drops `dim`.
    public func select(dim: Int, index: Int) throws -> Tensor {
        try make("select index \(index) of dim \(dim) of \(shape)") { ct_select(raw, Int64(dim), Int64(index), $0) }
    }
    public func indexSelect(dim: Int, index: Tensor) throws -> Tensor {
        try make("index_select dim \(dim) of \(shape)") { ct_index_select(raw, Int64(dim), index.raw, $0) }
    }
    public func gather(dim: Int, index: Tensor) throws -> Tensor {
        try make("gather dim \(dim) of \(shape) with index \(index.shape)") {
            ct_gather(raw, Int64(dim), index.raw, $0)
        }
    }
    public func scatter(dim: Int, index: Tensor, source: Tensor) throws -> Tensor {
        try make("scatter dim \(dim) of \(shape)") { ct_scatter(raw, Int64(dim), index.raw, source.raw, $0) }
    }
    public func maskedFill(_ mask: Tensor, _ value: Double) throws -> Tensor {
        try make("masked_fill of \(shape)") { ct_masked_fill(raw, mask.raw, value, $0) }
    }
    public static func `where`(_ cond: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        try make("where") { ct_where(cond.raw, a.raw, b.raw, $0) }
    }
    public static func cat(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
        let hs: [ct_tensor?] = tensors.map { $0.raw }
        return try withExtendedLifetime(tensors) {
            try make("cat of \(tensors.map(\.shape)) along \(dim)") { ct_cat(hs, Int32(hs.count), Int64(dim), $0) }
        }
    }
    public static func stack(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
        let hs: [ct_tensor?] = tensors.map { $0.raw }
        return try withExtendedLifetime(tensors) {
            try make("stack of \(tensors.map(\.shape)) along \(dim)") { ct_stack(hs, Int32(hs.count), Int64(dim), $0) }
        }
    }
    public func expand(_ shape: [Int]) throws -> Tensor {
        let s = ints(shape)
        return try make("expand \(self.shape) to \(shape)") { ct_expand(raw, s, Int32(s.count), $0) }
    }
    public func `repeat`(_ reps: [Int]) throws -> Tensor {
        let s = ints(reps)
        return try make("repeat \(shape) by \(reps)") { ct_repeat(raw, s, Int32(s.count), $0) }
    }
    public func repeatInterleave(_ repeats: Int, dim: Int) throws -> Tensor {
        try make("repeat_interleave") { ct_repeat_interleave(raw, Int64(repeats), Int64(dim), $0) }
    }
    public func flatten(start: Int = 0, end: Int = -1) throws -> Tensor {
        try make("flatten(\(start), \(end)) of \(shape)") { ct_flatten(raw, Int64(start), Int64(end), $0) }
    }
    public func unsqueeze(_ dim: Int) throws -> Tensor {
        try make("unsqueeze(\(dim))") { ct_unsqueeze(raw, Int64(dim), $0) }
    }
    public func squeeze(_ dim: Int) throws -> Tensor { try make("squeeze(\(dim))") { ct_squeeze(raw, Int64(dim), $0) } }
    public func flip(_ dims: [Int]) throws -> Tensor {
        let s = ints(dims)
        return try make("flip") { ct_flip(raw, s, Int32(s.count), $0) }
    }
    public func roll(_ shift: Int, dim: Int) throws -> Tensor {
        try make("roll") { ct_roll(raw, Int64(shift), Int64(dim), $0) }
    }

    public func to(_ dtype: DType) throws -> Tensor {
        if dtype == self.dtype { return self }
        return try make("to(\(dtype))") { ct_to_dtype(raw, dtype.rawValue, $0) }
    }
    /// This tensor on `device` (itself when already there: one cheap check on the CPU paths). `nonBlocking`: an
    /// asynchronous copy (from pinned host memory to CUDA; `torch.Tensor.to(non_blocking=True)`).
    public func to(_ device: Device, nonBlocking: Bool = false) throws -> Tensor {
        if device == self.device { return self }
        let d = device.code
        return try make("to(\(device))") { ct_to_device_async(raw, d.0, d.1, nonBlocking ? 1 : 0, $0) }
    }
    /// A copy in page-locked host memory (`pin_memory()`), for asynchronous copies to CUDA.
    public func pinned() throws -> Tensor { try make("pin_memory") { ct_pin_memory(raw, $0) } }
    public var isPinned: Bool { ct_is_pinned(raw) != 0 }
    /// Makes every holder of this tensor see `src` (detached; requires grad as this one did): moves a module's
    /// tensors between devices in place (`Module.move(to:)`). Gradients are dropped.
    public func rebind(to src: Tensor) throws {
        try check(ct_rebind(raw, src.raw, requiresGrad ? 1 : 0), "rebind \(shape) to \(src.device)")
    }
    public func contiguous() throws -> Tensor { try make("contiguous") { ct_contiguous(raw, $0) } }
    public func clone() throws -> Tensor { try make("clone") { ct_clone(raw, $0) } }
    /// The same data, cut from the autograd graph.
    public func detach() throws -> Tensor { try make("detach") { ct_detach(raw, $0) } }

    // MARK: in-place
    public func copy_(_ src: Tensor) throws { try check(ct_copy_(raw, src.raw), "copy_ \(src.shape) into \(shape)") }
    public func fill_(_ v: Double) throws { try check(ct_fill_(raw, v), "fill_") }
    public func zero_() throws { try check(ct_zero_(raw), "zero_") }
    public func uniform_(_ from: Double, _ to: Double, generator: Generator? = nil) throws {
        try check(ct_uniform_(raw, from, to, generator?.raw), "uniform_")
    }
    public func normal_(mean: Double = 0, std: Double = 1, generator: Generator? = nil) throws {
        try check(ct_normal_(raw, mean, std, generator?.raw), "normal_")
    }
}
