import Foundation
import Testing
import TestSupport
import Torch
@testable import Models
import TensorFiles

/// The head count from the standard size table, and the settings a checkpoint records (safetensors metadata, `.pth`
/// args) read back as written.
@Suite struct ModelSettingsTests {
    /// A state dict with the shapes `ViTConfig.inferred` reads: patch embedding, block 0's MLP, one norm per block.
    func shaped(embed: Int, depth: Int, patch: Int = 16) throws -> [(String, Tensor)] {
        var s: [(String, Tensor)] = [
            ("patch_embed.proj.weight", try Tensor.zeros([embed, 3, 2, patch, patch])),
            ("blocks.0.mlp.fc1.weight", try Tensor.zeros([4 * embed, embed]))
        ]
        for i in 0 ..< depth { s.append(("blocks.\(i).norm1.weight", try Tensor.zeros([embed]))) }
        return s
    }

    @Test func standardSizesFixTheHeads() throws {
        // ViT-H/14 has 16 heads of 80 channels: embed_dim / 64 would say 20.
        for (embed, depth, patch, heads) in [
            (1280, 32, 14, 16), (1280, 32, 16, 16), (1024, 24, 16, 16), (768, 12, 16, 12), (384, 12, 16, 6)
        ] {
            let c = try ViTConfig.inferred(from: shaped(embed: embed, depth: depth, patch: patch), source: "h.pth")
            #expect(
                c.numHeads == heads && c.embedDim == embed && c.depth == depth && c.patchSize == patch,
                "\(embed)/\(depth)")
        }
        // The same width at another depth is no standard model (old timm ViT-S: 768 × 8 with 8 heads).
        for (embed, depth) in [(1280, 2), (768, 8), (64, 2)] {
            #expect { try ViTConfig.inferred(from: shaped(embed: embed, depth: depth), source: "h.pth") } throws: {
                let s = "\($0)"
                return s.contains("h.pth") && s.contains("--num_heads")
                    && s.contains("embed_dim \(embed) with depth \(depth)")
                    && s.contains("ViT-H 1280/32/16")
            }
        }
        #expect(try ViTConfig.inferred(from: shaped(embed: 64, depth: 2), numHeads: 2).numHeads == 2)
        #expect { try ViTConfig.inferred(from: shaped(embed: 64, depth: 2), numHeads: 3, source: "t.pth") } throws: {
            "\($0)".contains("t.pth: 3 attention heads do not divide embed_dim 64")
        }
        // mae_st's args name the model (an argparse.Namespace), stmae's carry num_heads (a dict).
        let ns = PickleValue.object(
            name: "argparse.Namespace",
            state: .dict([
                "model": .string("mae_vit_huge_patch14"),
                "input_size": .int(224), "num_frames": .int(16)
            ]))
        #expect(ModelSettings(args: ns) == ModelSettings(numHeads: 16, imgSize: 224, numFrames: 16))
        #expect(ModelSettings(args: .dict(["model": .string("vit_large_patch16"), "num_heads": .int(8)])).numHeads == 8)
        #expect(ModelSettings(args: .dict(["model": .string("my_vit")])).numHeads == nil)
    }

    @Test func settingsReadBackFromEveryFormat() throws {
        let processor = #"{"image_mean": [0.45, 0.45, 0.45], "image_std": [0.225, 0.225, 0.225], "resample": 3}"#
        let all = ModelSettings(
            numHeads: 16, imgSize: 8, numFrames: 4, normEps: 1e-12, fcNormEps: 1e-5,
            preprocessing: .init(mean: [0.45, 0.45, 0.45], std: [0.225, 0.225, 0.225], processorConfig: processor),
            labels: ["run", "jump \"high\""])
        #expect(try ModelSettings(metadata: all.metadata, source: "x") == all)
        #expect(ModelSettings(args: all.pickleArgs) == all)
        let tmp = try TempDir()
        let state = try shaped(embed: 64, depth: 2)
        for file in ["w.safetensors", "w.pth"] {
            try Weights.write(state, to: tmp.path + "/" + file, format: WeightsFormat.detect(file), settings: all)
            #expect(try Weights.settings(tmp.path + "/" + file) == all, "\(file)")
            #expect(try Weights.read(tmp.path + "/" + file).map(\.0) == state.map(\.0))
            try Weights.write(state, to: tmp.path + "/bare-" + file, format: WeightsFormat.detect(file))
            #expect(try Weights.settings(tmp.path + "/bare-" + file).isEmpty, "\(file)")
        }
        // The .pth keeps mae_st's layout: {"model": OrderedDict, "args": {...}} with mae_st's field names.
        let top = try TorchCheckpoint.load(path: tmp.path + "/w.pth")
        #expect(
            top.value(at: ["args", "input_size"])?.intValue == 8
                && top.value(at: ["model"])?.dictValue?.isOrderedDict == true)
        // Metadata wins over an stmae training sidecar; the sidecar fills the rest.
        try Data(
            (#"{"weights": "w.safetensors", "config": {"model": "videomae_vit_base_patch16", "#
                + #""num_heads": 0, "img_size": 8}}"#).utf8
        )
        .write(to: URL(fileURLWithPath: tmp.path + "/bare-w.json"))
        let sidecar = try Weights.settings(tmp.path + "/bare-w.safetensors")
        #expect(sidecar.numHeads == 12 && sidecar.imgSize == 8 && sidecar.normEps == 1e-12 && sidecar.fcNormEps == 1e-5)
        #expect { try ModelSettings(metadata: ["num_heads": "x"], source: "m.safetensors") } throws: {
            "\($0)".contains("m.safetensors: metadata 'num_heads' is 'x'")
        }
    }
}
