// Comparisons of tensors against reference values.
import Torch

/// Max-norm relative difference ‖a − b‖∞ / max(‖b‖∞, 1e-6), in float64; a and b have the same element
/// count.
public func maxRel(_ a: Tensor, _ b: Tensor) throws -> Double {
    let x = try a.to(.float64).toArray(Double.self), y = try b.to(.float64).toArray(Double.self)
    precondition(x.count == y.count, "maxRel: \(x.count) vs \(y.count) elements")
    var num = 0.0, den = 1e-6
    for (p, q) in zip(x, y) { num = max(num, abs(p - q)); den = max(den, abs(q)) }
    return num / den
}
