import Foundation
import Testing
@testable import Torch

/// Path of a bundled fixture.
func fixture(_ name: String) -> String {
    Bundle.module.path(forResource: name, ofType: nil, inDirectory: "Fixtures")!
}

/// Max-norm relative difference ‖a − b‖∞ / max(‖b‖∞, 1e-6), in float64.
func relDiff(_ a: Tensor, _ b: Tensor) throws -> Double {
    let x = try a.to(.float64).toArray(Double.self), y = try b.to(.float64).toArray(Double.self)
    precondition(x.count == y.count)
    var num = 0.0, den = 1e-6
    for (p, q) in zip(x, y) { num = max(num, Swift.abs(p - q)); den = max(den, Swift.abs(q)) }
    return num / den
}

/// Expects equal shapes and a relative difference within `tol`.
func expectClose(_ a: Tensor, _ b: Tensor, tol: Double, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(a.shape == b.shape, "\(what): shape \(a.shape) vs \(b.shape)", sourceLocation: sourceLocation)
    guard a.shape == b.shape else { return }
    let d = try relDiff(a, b)
    #expect(d <= tol, "\(what): relative difference \(d) > \(tol)", sourceLocation: sourceLocation)
}
