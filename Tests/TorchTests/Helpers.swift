import Foundation
import TestSupport
import Testing
@testable import Torch

/// Expects equal shapes and a relative difference within `tol`.
func expectClose(
    _ a: Tensor, _ b: Tensor, tol: Double, _ what: String, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    #expect(a.shape == b.shape, "\(what): shape \(a.shape) vs \(b.shape)", sourceLocation: sourceLocation)
    guard a.shape == b.shape else { return }
    let d = try maxRel(a, b)
    #expect(d <= tol, "\(what): relative difference \(d) > \(tol)", sourceLocation: sourceLocation)
}

/// Expects a bf16 step (`y` from the leaves x, w, b: bf16, or fp32 under autocast) to match its float64 reference on
/// the bf16-rounded operands (`ref` from xr, wr, br): a bf16 output, dw in the leaves' dtype, and the output and the
/// three gradients within bf16 rounding (4e-3 of the max norm).
func expectBF16Step(
    _ y: Tensor, _ ref: Tensor, leaves: (x: Tensor, w: Tensor, b: Tensor?),
    rounded: (x: Tensor, w: Tensor, b: Tensor?), autocast: Bool, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    #expect(y.dtype == .bfloat16, "\(what)", sourceLocation: sourceLocation)
    let dw = try #require(leaves.w.grad, sourceLocation: sourceLocation)
    #expect(dw.dtype == (autocast ? .float32 : .bfloat16), "\(what)", sourceLocation: sourceLocation)
    try expectClose(y, ref, tol: 4e-3, "output \(what)", sourceLocation: sourceLocation)
    var grads = [("dx", leaves.x, rounded.x), ("dw", leaves.w, rounded.w)]
    if let b = leaves.b, let br = rounded.b { grads.append(("db", b, br)) }
    for (name, leaf, reference) in grads {
        let got = try #require(leaf.grad, sourceLocation: sourceLocation)
        let want = try #require(reference.grad, sourceLocation: sourceLocation)
        try expectClose(got, want, tol: 4e-3, "\(name) \(what)", sourceLocation: sourceLocation)
    }
}
