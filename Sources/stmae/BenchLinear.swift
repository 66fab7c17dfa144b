import ArgumentParser
import Foundation
import Torch
import Training

/// `stmae bench linear`: fp32 `linear` on each GEMM library (`--fp32-linear`), alternated in one process, on the
/// ViT-B MAE shapes; shows which library is fastest on this CPU.
struct BenchLinear: SettingsCommand {
    static let configuration = command(
        "linear", "fp32 linear forward and forward+backward on OpenBLAS, oneDNN and libtorch (JSON lines).")
    @Argument(parsing: .captureForPassthrough, help: flagsHelp) var arguments: [String] = []
    func run(_ s: BenchLinearSettings) throws {
        for shape in try parseShapes(s.shapes, dims: 3, format: "M,K,N") {
            try Self.compare(m: shape[0], k: shape[1], n: shape[2], s)
        }
    }

    static func compare(m: Int, k: Int, n: Int, _ s: BenchLinearSettings) throws {
        let (backends, steps, rounds) = (s.backends, s.steps, s.rounds)
        let x = try Tensor.randn([m, k]).requiresGrad(true), w = try (Tensor.randn([n, k]) * 0.05).requiresGrad(true)
        let b = try Tensor.zeros([n]).requiresGrad(true), grad = try Tensor.randn([m, n])
        var times: [LinearBackend: [[Double]]] = [:]
        for _ in 0 ..< rounds {
            for backend in backends {
                let forward = { _ = try withNoGrad { try linear(x, weight: w, bias: b, backend: backend) } }
                let training = {
                    try linear(x, weight: w, bias: b, backend: backend).backward(gradient: grad)
                    for p in [x, w, b] { try p.setGrad(nil) }
                }
                times[backend, default: []].append([
                    try medianTime(steps: steps, forward), try medianTime(steps: steps, training)
                ])
            }
        }
        let flops = 2.0 * Double(m * k * n)
        var line: [String: Any] = [
            "bench": "linear_fp32", "shape": [m, k, n], "threads": Runtime.numThreads, "rounds": rounds
        ]
        for (backend, t) in times {
            line["\(backend.name)_forward_gflops"] = flops / median(t.map { $0[0] }) / 1e9
            line["\(backend.name)_train_gflops"] = 3 * flops / median(t.map { $0[1] }) / 1e9
        }
        printJSON(line)
    }
}
