import Datasets
import Foundation
import Media
import Models
import Testing
import TestSupport
import Torch
@testable import Training

/// `stmae embed --bf16 / --fp16`: the forward under autocast, rows back on the CPU in float32, close to fp32's.
struct EmbedPrecisionTests {
    @Test func autocastRowsMatchFp32WithinHalfPrecision() throws {
        let tmp = try TempDir("embed-bf16"), dir = tmp.path
        try SyntheticVideos.generate(root: dir + "/videos", trainPerClass: 1, valPerClass: 0, frames: 12, size: 32)
        let samples = try VideoList.scan(dirs: [dir + "/videos/train"])
        _ = try writeTinyMAE(to: dir + "/mae.pth", seed: 3)
        let m = try EmbeddingModel(checkpoint: dir + "/mae.pth")
        try m.move(to: .cpu)
        let clip = ClipConfig(numFrames: 4, samplingRate: 2, targetFps: 10, imgSize: 32, train: false)
        func rows(_ autocast: DType?) throws -> Tensor {
            let loader = try VideoLoader(
                samples: samples, config: clip, batchSize: 4, shuffle: false, numWorkers: 1, dropLast: false)
            return try Embeddings.extract(m, loader: loader, device: .cpu, autocast: autocast).embeddings
        }
        let fp32 = try rows(nil)
        for half in [DType.bfloat16, .float16] {
            let r = try rows(half)
            #expect(r.dtype == .float32 && r.device == .cpu && r.shape == fp32.shape)
            let d = try maxRel(r, fp32)
            #expect(d > 0 && d < (half == .bfloat16 ? 5e-2 : 1e-2), "\(half): \(d)")
        }
    }
}
