import Foundation
import Models
import Testing
import TestSupport
import Torch
@testable import Training

/// `--finetune` loads weights into a model whose head count comes from `--model` / `--num_heads`; a checkpoint that
/// records another count is refused rather than loaded into the wrong attention.
struct PretrainedHeadsTests {
    @Test func finetuneRefusesAnotherHeadCount() throws {
        let tmp = try TempDir("ft-heads"), dir = tmp.path
        var c = ViTConfig()
        (c.numFrames, c.imgSize, c.patchSize, c.numClasses, c.embedDim, c.depth, c.numHeads, c.dropout) = (
            4, 16, 8, 3, 64, 1, 2, 0
        )
        let src = try VisionTransformer(c, generator: Generator(seed: 1))
        try Weights.write(src.stateDict(), to: dir + "/two.pth", format: .torch, settings: ModelSettings(numHeads: 2))
        var four = c
        four.numHeads = 4
        #expect { try loadPretrained(dir + "/two.pth", into: VisionTransformer(four), headInitStd: 0.01) } throws: {
            "\($0)".contains("--finetune \(dir)/two.pth")
                && "\($0)".contains("2 attention heads (recorded), the model 4: pass --num_heads 2")
        }
        #expect(try loadPretrained(dir + "/two.pth", into: VisionTransformer(c), headInitStd: 0.01).load.isClean)
        // Nothing recorded and no standard size: the model's own count stands.
        try Weights.write(src.stateDict(), to: dir + "/bare.pth", format: .torch)
        #expect(try loadPretrained(dir + "/bare.pth", into: VisionTransformer(four), headInitStd: 0.01).load.isClean)
    }
}
