import CTorch

/// Elementwise arithmetic, comparisons, reductions and matrix products.
extension Tensor {
    func binary(_ op: ct_binary, _ other: Tensor, _ name: String) throws -> Tensor {
        try make("\(name) of \(shape) and \(other.shape)") { ct_binary(Int32(op.rawValue), raw, other.raw, $0) }
    }
    func binary(_ op: ct_binary, _ s: Double, _ name: String) throws -> Tensor {
        try make("\(name) of \(shape) and a scalar") { ct_binary_scalar(Int32(op.rawValue), raw, s, $0) }
    }
    func unary(_ op: ct_unary, _ name: String) throws -> Tensor {
        try make("\(name) of \(shape)") { ct_unary(Int32(op.rawValue), raw, $0) }
    }

    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(CT_ADD, b, "add") }
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(CT_SUB, b, "sub") }
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(CT_MUL, b, "mul") }
    public static func / (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(CT_DIV, b, "div") }
    public static func + (a: Tensor, b: Double) throws -> Tensor { try a.binary(CT_ADD, b, "add") }
    public static func - (a: Tensor, b: Double) throws -> Tensor { try a.binary(CT_SUB, b, "sub") }
    public static func * (a: Tensor, b: Double) throws -> Tensor { try a.binary(CT_MUL, b, "mul") }
    public static func / (a: Tensor, b: Double) throws -> Tensor { try a.binary(CT_DIV, b, "div") }
    public static func + (a: Double, b: Tensor) throws -> Tensor { try b.binary(CT_ADD, a, "add") }
    public static func * (a: Double, b: Tensor) throws -> Tensor { try b.binary(CT_MUL, a, "mul") }
    public static func - (a: Double, b: Tensor) throws -> Tensor { try b.neg().binary(CT_ADD, a, "rsub") }
    public static prefix func - (a: Tensor) throws -> Tensor { try a.neg() }

    public func pow(_ e: Double) throws -> Tensor { try binary(CT_POW, e, "pow") }
    public func pow(_ e: Tensor) throws -> Tensor { try binary(CT_POW, e, "pow") }
    public func maximum(_ o: Tensor) throws -> Tensor { try binary(CT_MAXIMUM, o, "maximum") }
    public func minimum(_ o: Tensor) throws -> Tensor { try binary(CT_MINIMUM, o, "minimum") }
    public func eq(_ o: Tensor) throws -> Tensor { try binary(CT_EQ, o, "eq") }
    public func ne(_ o: Tensor) throws -> Tensor { try binary(CT_NE, o, "ne") }
    public func lt(_ o: Tensor) throws -> Tensor { try binary(CT_LT, o, "lt") }
    public func gt(_ o: Tensor) throws -> Tensor { try binary(CT_GT, o, "gt") }
    public func le(_ o: Tensor) throws -> Tensor { try binary(CT_LE, o, "le") }
    public func ge(_ o: Tensor) throws -> Tensor { try binary(CT_GE, o, "ge") }
    public func eq(_ s: Double) throws -> Tensor { try binary(CT_EQ, s, "eq") }
    public func lt(_ s: Double) throws -> Tensor { try binary(CT_LT, s, "lt") }
    public func gt(_ s: Double) throws -> Tensor { try binary(CT_GT, s, "gt") }
    public func ge(_ s: Double) throws -> Tensor { try binary(CT_GE, s, "ge") }
    public func le(_ s: Double) throws -> Tensor { try binary(CT_LE, s, "le") }
    public func logicalAnd(_ o: Tensor) throws -> Tensor { try binary(CT_LOGICAL_AND, o, "logical_and") }
    public func logicalOr(_ o: Tensor) throws -> Tensor { try binary(CT_LOGICAL_OR, o, "logical_or") }

    public func neg() throws -> Tensor { try unary(CT_NEG, "neg") }
    public func exp() throws -> Tensor { try unary(CT_EXP, "exp") }
    public func log() throws -> Tensor { try unary(CT_LOG, "log") }
    public func sqrt() throws -> Tensor { try unary(CT_SQRT, "sqrt") }
    public func rsqrt() throws -> Tensor { try unary(CT_RSQRT, "rsqrt") }
    public func abs() throws -> Tensor { try unary(CT_ABS, "abs") }
    public func sin() throws -> Tensor { try unary(CT_SIN, "sin") }
    public func cos() throws -> Tensor { try unary(CT_COS, "cos") }
    public func tanh() throws -> Tensor { try unary(CT_TANH, "tanh") }
    public func sigmoid() throws -> Tensor { try unary(CT_SIGMOID, "sigmoid") }
    public func relu() throws -> Tensor { try unary(CT_RELU, "relu") }
    public func floor() throws -> Tensor { try unary(CT_FLOOR, "floor") }
    public func ceil() throws -> Tensor { try unary(CT_CEIL, "ceil") }
    public func round() throws -> Tensor { try unary(CT_ROUND, "round") }
    public func erfinv() throws -> Tensor { try unary(CT_ERFINV, "erfinv") }
    public func logicalNot() throws -> Tensor { try unary(CT_LOGICAL_NOT, "logical_not") }
    public func reciprocal() throws -> Tensor { try unary(CT_RECIPROCAL, "reciprocal") }
    public func square() throws -> Tensor { try unary(CT_SQUARE, "square") }
    public func sign() throws -> Tensor { try unary(CT_SIGN, "sign") }
    public func clamp(min lo: Double? = nil, max hi: Double? = nil) throws -> Tensor {
        try make("clamp") { ct_clamp(raw, lo ?? 0, hi ?? 0, lo == nil ? 0 : 1, hi == nil ? 0 : 1, $0) }
    }
    public func lerp(_ end: Tensor, weight: Double) throws -> Tensor {
        try make("lerp") { ct_lerp(raw, end.raw, weight, $0) }
    }

    // MARK: in-place arithmetic
    /// `self += alpha * other`
    public func add_(_ other: Tensor, alpha: Double = 1) throws {
        try check(ct_add_scaled_(raw, other.raw, alpha), "add_ \(other.shape) into \(shape)")
    }
    public func sub_(_ other: Tensor) throws { try check(ct_binary_(Int32(CT_SUB.rawValue), raw, other.raw), "sub_") }
    public func mul_(_ other: Tensor) throws { try check(ct_binary_(Int32(CT_MUL.rawValue), raw, other.raw), "mul_") }
    public func div_(_ other: Tensor) throws { try check(ct_binary_(Int32(CT_DIV.rawValue), raw, other.raw), "div_") }
    public func add_(_ s: Double) throws { try check(ct_binary_scalar_(Int32(CT_ADD.rawValue), raw, s), "add_") }
    public func mul_(_ s: Double) throws { try check(ct_binary_scalar_(Int32(CT_MUL.rawValue), raw, s), "mul_") }
    public func div_(_ s: Double) throws { try check(ct_binary_scalar_(Int32(CT_DIV.rawValue), raw, s), "div_") }
    public func erfinv_() throws { try check(ct_unary_(Int32(CT_ERFINV.rawValue), raw), "erfinv_") }
    public func clamp_(min lo: Double? = nil, max hi: Double? = nil) throws {
        try check(ct_clamp_(raw, lo ?? 0, hi ?? 0, lo == nil ? 0 : 1, hi == nil ? 0 : 1), "clamp_")
    }

    // MARK: reductions (empty `dims` = all dimensions)
    public func sum(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try make("sum over \(dims) of \(shape)") { ct_sum(raw, d, Int32(d.count), keepDim ? 1 : 0, $0) }
    }
    public func mean(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try make("mean over \(dims) of \(shape)") { ct_mean(raw, d, Int32(d.count), keepDim ? 1 : 0, $0) }
    }
    /// Variance with Bessel-style `correction` (1 = unbiased, as `torch.var` default).
    public func variance(dims: [Int] = [], correction: Int = 1, keepDim: Bool = false) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try make("var over \(dims) of \(shape)") {
            ct_var(raw, d, Int32(d.count), Int64(correction), keepDim ? 1 : 0, $0)
        }
    }
    public func amax(dims: [Int], keepDim: Bool = false) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try make("amax") { ct_amax(raw, d, Int32(d.count), keepDim ? 1 : 0, $0) }
    }
    public func amin(dims: [Int], keepDim: Bool = false) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try make("amin") { ct_amin(raw, d, Int32(d.count), keepDim ? 1 : 0, $0) }
    }
    public func argmax(dim: Int, keepDim: Bool = false) throws -> Tensor {
        try make("argmax") { ct_argmax(raw, Int64(dim), keepDim ? 1 : 0, $0) }
    }
    public func argsort(dim: Int = -1, descending: Bool = false, stable: Bool = false) throws -> Tensor {
        try make("argsort of \(shape)") { ct_argsort(raw, Int64(dim), descending ? 1 : 0, stable ? 1 : 0, $0) }
    }
    public func topk(_ k: Int, dim: Int = -1, largest: Bool = true) throws -> (values: Tensor, indices: Tensor) {
        var v: ct_tensor?, i: ct_tensor?
        try check(ct_topk(raw, Int64(k), Int64(dim), largest ? 1 : 0, &v, &i), "topk(\(k)) of \(shape)")
        return (Tensor(owning: v!), Tensor(owning: i!))
    }
    /// The vector norm over all elements.
    public func norm(_ ord: Double = 2) throws -> Tensor { try make("norm") { ct_vector_norm(raw, ord, $0) } }
    public func cumsum(dim: Int) throws -> Tensor { try make("cumsum") { ct_cumsum(raw, Int64(dim), $0) } }

    // MARK: products
    public func matmul(_ other: Tensor) throws -> Tensor {
        try make("matmul of \(shape) and \(other.shape)") { ct_matmul(raw, other.raw, $0) }
    }
    public func bmm(_ other: Tensor) throws -> Tensor {
        try make("bmm of \(shape) and \(other.shape)") { ct_bmm(raw, other.raw, $0) }
    }
    /// `beta * self + alpha * (a @ b)` batched.
    public func baddbmm(_ a: Tensor, _ b: Tensor, beta: Double = 1, alpha: Double = 1) throws -> Tensor {
        try make("baddbmm") { ct_baddbmm(raw, a.raw, b.raw, beta, alpha, $0) }
    }
}
