import Foundation
import Torch

/// Weight initialisers (in place, no grad), as `torch.nn.init` / timm.
public enum Init {
    /// fan_in, fan_out of a weight [out, in, *kernel].
    static func fans(_ t: Tensor) -> (Double, Double) {
        let s = t.shape
        let receptive = s.dropFirst(2).reduce(1, *)
        return (Double(s.count > 1 ? s[1] * receptive : s[0]), Double(s[0] * receptive))
    }
    /// U(-b, b) with b = gain·sqrt(6 / (fan_in + fan_out)). Conv weights count their kernel in the fans, which equals
    /// viewing them 2-D as [out, in·k] (MAE's patch-embedding init).
    public static func xavierUniform(_ t: Tensor, gain: Double = 1, generator: Generator? = nil) throws {
        let (fi, fo) = fans(t)
        let b = gain * (6.0 / (fi + fo)).squareRoot()
        try withNoGrad { try t.uniform_(-b, b, generator: generator) }
    }
    public static func normal(_ t: Tensor, mean: Double = 0, std: Double, generator: Generator? = nil) throws {
        try withNoGrad { try t.normal_(mean: mean, std: std, generator: generator) }
    }
    /// Normal(mean, std) truncated to [a, b] (absolute bounds, as timm's `trunc_normal_`), by inverse-CDF sampling.
    public static func truncNormal(
        _ t: Tensor, mean: Double = 0, std: Double = 0.02, a: Double = -2, b: Double = 2,
        generator: Generator? = nil
    ) throws {
        func cdf(_ x: Double) -> Double { (1 + erf(x / 2.0.squareRoot())) / 2 }
        let l = cdf((a - mean) / std), u = cdf((b - mean) / std)
        try withNoGrad {
            try t.uniform_(2 * l - 1, 2 * u - 1, generator: generator)
            try t.erfinv_()
            try t.mul_(std * 2.0.squareRoot())
            try t.add_(mean)
            try t.clamp_(min: a, max: b)
        }
    }
    public static func constant(_ t: Tensor, _ v: Double) throws { try withNoGrad { try t.fill_(v) } }
    /// PyTorch's default Linear/Conv init: kaiming-uniform(a=√5) for the weight, U(±1/√fan_in) for the bias.
    public static func torchDefault(weight: Tensor, bias: Tensor?, generator: Generator? = nil) throws {
        let (fi, _) = fans(weight)
        let b = 1 / fi.squareRoot()
        try withNoGrad {
            try weight.uniform_(-b, b, generator: generator)
            if let bias { try bias.uniform_(-b, b, generator: generator) }
        }
    }
}
