import Foundation
import Models
import Testing
import Torch
@testable import Training

struct VisualizeTests {
    @Test func viewsKeepVisiblePixelsAndGreyTheMasked() throws {
        var cfg = try MAEConfig.named("mae_vit_tiny")
        (cfg.imgSize, cfg.patchSize, cfg.numFrames, cfg.predTDim, cfg.maskRatio) = (32, 8, 4, 4, 0.75)
        let model = try MaskedAutoencoderViT(cfg, generator: Generator(seed: 1))
        let (mean, std) = ([0.45, 0.45, 0.45], [0.225, 0.225, 0.225])
        let x = try (Tensor.rand([1, 3, 4, 32, 32], generator: Generator(seed: 2)) - 0.45) / 0.225  // pixels in [0, 1)
        let r = try reconstruct(
            model, clip: x, noise: model.makeNoise(batch: 1, generator: Generator(seed: 3)), mean: mean, std: std)
        #expect(abs(r.maskedFraction - 0.75) < 1e-6, "kept int(32·0.25) = 8 of 32 tokens")
        var visible = 0, greyed = 0
        for i in 0 ..< r.original.pixels.count {
            if r.masked.pixels[i] == 64 { greyed += 1; continue }  // masked (or visible and 64 by chance)
            #expect(r.reconstruction.pixels[i] == r.original.pixels[i])
            visible += 1
        }
        #expect(Double(greyed) / Double(r.original.pixels.count) >= 0.75, "grey where masked")
        #expect(Double(visible) / Double(r.original.pixels.count) > 0.24)
        #expect(r.loss > 0 && r.loss.isFinite)
        // The grid: 3 rows (views) × 4 frames, 2-pixel gutters; the GIF frames show the three views side by side.
        let g = r.grid()
        #expect(g.width == 4 * 32 + 6 && g.height == 3 * 32 + 4)
        #expect(r.sideBySide().width == 3 * 32 + 4 && r.sideBySide().frames == 4)
        #expect { try r.save(to: "/tmp/x.bmp") } throws: { "\($0)".contains(".png or .gif") }
    }

    @Test func normPixPredictionsAreDenormalisedWithVisibleStatistics() throws {
        var cfg = try MAEConfig.named("mae_vit_tiny")
        (cfg.imgSize, cfg.patchSize, cfg.numFrames, cfg.predTDim, cfg.normPixLoss) = (32, 8, 4, 4, true)
        let model = try MaskedAutoencoderViT(cfg, generator: Generator(seed: 1))
        // bright, low-contrast clip
        let x = try Tensor.randn([1, 3, 4, 32, 32], generator: Generator(seed: 4)) * 0.1 + 1.0
        let noise = try model.makeNoise(batch: 1, generator: Generator(seed: 5))
        let stats = [0.45, 0.45, 0.45], std = [0.225, 0.225, 0.225]
        let vis = try reconstruct(model, clip: x, noise: noise, mean: stats, std: std, denorm: .visible)
        let own = try reconstruct(model, clip: x, noise: noise, mean: stats, std: std, denorm: .own)
        // Predictions of an untrained model are ~N(0, small): de-normalised they sit near the clip's mean brightness
        // (≈ (1.0·0.225 + 0.45) → 0.675 → 172), not near the data-set mean (0.45 → 115).
        let masked = vis.masked.pixels.indices.filter { vis.masked.pixels[$0] == 64 }
        let meanRec = masked.map { Double(vis.reconstruction.pixels[$0]) }.reduce(0, +) / Double(masked.count)
        #expect(abs(meanRec - 172) < 15, "\(meanRec)")
        #expect(vis.reconstruction != own.reconstruction)
    }
}
