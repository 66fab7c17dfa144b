import ArgumentParser
import Foundation
import Torch

/// `stmae bench linear`: fp32 `linear` on each GEMM library (`--fp32-linear`), alternated in one process, on the
/// ViT-B MAE shapes; shows which library is fastest on this CPU.
struct BenchLinear: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "linear",
        abstract: "fp32 linear forward and forward+backward on OpenBLAS, oneDNN and libtorch (JSON lines).")

    @Option(parsing: .upToNextOption, help: "Shapes M,K,N: tokens, in, out features (defaults: MAE decoder, encoder, ViT-B on 1569 tokens).")
    var shapes: [String] = ["1568,512,1536", "1568,512,2048", "1568,2048,512", "157,768,2304", "157,768,3072", "157,3072,768",
                            "1569,768,2304", "1569,3072,768"]
    @Option(parsing: .upToNextOption, help: "Backends to compare.") var backends: [LinearBackend] = LinearBackend.allCases
    @Option(help: "Timed calls per round (median reported).") var steps = 5
    @Option(help: "Rounds alternating the backends.") var rounds = 3

    func run() throws {
        let parsed = try parseShapes(shapes, dims: 3, format: "M,K,N")
        for s in parsed { try compare(m: s[0], k: s[1], n: s[2]) }
    }

    func compare(m: Int, k: Int, n: Int) throws {
        let x = try Tensor.randn([m, k]).requiresGrad(true), w = try (Tensor.randn([n, k]) * 0.05).requiresGrad(true)
        let b = try Tensor.zeros([n]).requiresGrad(true), grad = try Tensor.randn([m, n])
        var times: [LinearBackend: [[Double]]] = [:]
        for _ in 0..<rounds {
            for backend in backends {
                let forward = { _ = try withNoGrad { try linear(x, weight: w, bias: b, backend: backend) } }
                let training = {
                    try linear(x, weight: w, bias: b, backend: backend).backward(gradient: grad)
                    for p in [x, w, b] { try p.setGrad(nil) }
                }
                times[backend, default: []].append([try medianTime(steps: steps, forward), try medianTime(steps: steps, training)])
            }
        }
        let flops = 2.0 * Double(m * k * n)
        var line: [String: Any] = ["bench": "linear_fp32", "shape": [m, k, n], "threads": Runtime.numThreads, "rounds": rounds]
        for (backend, t) in times {
            line["\(backend.name)_forward_gflops"] = flops / median(t.map { $0[0] }) / 1e9
            line["\(backend.name)_train_gflops"] = 3 * flops / median(t.map { $0[1] }) / 1e9
        }
        printJSON(line)
    }
}
