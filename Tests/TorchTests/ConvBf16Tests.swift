import Testing
@testable import Torch

/// bf16 convolutions (bf16 inputs, or autocast over fp32 leaves) against the float64 convolution of the bf16-rounded
/// operands, forward and the three gradients, within bf16 rounding. Without AVX-512, libtorch's own bf16 convolution
/// is `slow_conv3d` (≈2 s for a ViT-B video patch embedding on a 2-core AVX2 EPYC); the shim (nn.cpp) runs the fp32
/// convolution of the rounded operands there instead.
struct ConvBf16Tests {
    typealias Conv = (Tensor, Tensor, Tensor) throws -> Tensor
    static let cases: [(name: String, x: [Int], w: [Int], conv: Conv)] = [
        ("conv3d", [2, 3, 4, 16, 16], [8, 3, 2, 4, 4], { try conv3d($0, weight: $1, bias: $2, stride: [2, 4, 4]) }),
        ("conv2d", [2, 3, 16, 16], [8, 3, 4, 4], { try conv2d($0, weight: $1, bias: $2, stride: [4, 4]) })
    ]

    @Test(arguments: cases.indices, [false, true]) func matchesRoundedOperands(_ i: Int, _ autocast: Bool) throws {
        let c = Self.cases[i], g = try Generator(seed: UInt64(40 + i))
        let x32 = try Tensor.randn(c.x, generator: g), w32 = try Tensor.randn(c.w, generator: g) * 0.1
        let b32 = try Tensor.randn([c.w[0]], generator: g)
        let rounded = { (t: Tensor) in try t.to(.bfloat16).to(.float64).requiresGrad(true) }
        let (xr, wr, br) = (try rounded(x32), try rounded(w32), try rounded(b32))
        let ref = try c.conv(xr, wr, br)
        let gy = try Tensor.randn(ref.shape, generator: g).to(.bfloat16)
        try ref.backward(gradient: gy.to(.float64))

        let leaf = { (t: Tensor) in try (autocast ? t : t.to(.bfloat16)).detach().requiresGrad(true) }
        let (x, w, b) = (try leaf(x32), try leaf(w32), try leaf(b32))
        let y = try withAutocast(enabled: autocast) { try c.conv(x, w, b) }
        try y.backward(gradient: gy)
        try expectBF16Step(
            y, ref, leaves: (x, w, b), rounded: (xr, wr, br), autocast: autocast,
            "\(c.name) autocast \(autocast)")
    }
}
