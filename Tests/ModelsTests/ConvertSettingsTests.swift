import Foundation
import Testing
import TestSupport
import TensorFiles
import Torch
@testable import Models
@testable import NN

/// `stmae convert` carries what the weights do not fix (heads, input size, eps, processor, labels) through every
/// format, checked with transformers on the Hugging Face ends (reference/interop_check.py make_hf / hf_summary).
extension InteropTests {
    static var canConvert: Bool { hasTorch && hasProduct("stmae") }

    /// Runs `stmae convert` on paths inside `dir` (the first two arguments) and expects success.
    func convert(_ dir: String, _ args: [String]) throws {
        let (status, text) = try runSTMAE(
            ["convert"] + args.enumerated().map { $0.offset < 2 ? dir + "/" + $0.element : $0.element })
        #expect(status == 0, "convert \(args): \(text)")
    }

    /// A transformers classifier (16 heads of 4 channels, eps 1e-12, named labels, Kinetics mean/std, resample 3) and
    /// a VideoMAEForPreTraining whose config carries 10 id2label entries, through HF → HF, HF → .safetensors → HF
    /// and HF → .pth → HF: transformers sees the same config, processor and outputs (within 1e-6) at the end.
    @Test(.enabled(if: InteropTests.canConvert, "needs .torch and the stmae binary"))
    func huggingFaceRoundTripsKeepTheSettings() throws {
        let tmp = try TempDir()
        _ = try runPython([interopCheck, "make_hf", tmp.path])
        for step in [
            ["cls", "hf_hf"], ["cls", "a.safetensors"], ["a.safetensors", "hf_st"], ["cls", "a.pth"],
            ["a.pth", "hf_pth"],
            ["pretraining", "pre_hf"], ["pretraining", "pre.pth"], ["pre.pth", "pre_pth_hf"]
        ] {
            try convert(tmp.path, step)
        }
        let dirs = ["hf_hf", "hf_st", "hf_pth", "pre_hf", "pre_pth_hf"]
        let out = try runPython(
            [interopCheck, "hf_summary", tmp.path + "/ref.safetensors"] + dirs.map { tmp.path + "/" + $0 })
        let summary = try #require(
            try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: [String: Any]], "\(out)")
        for d in dirs {
            let s = try #require(summary[d], "\(d): \(out)")
            #expect(s["heads"] as? Int == 16 && s["layer_norm_eps"] as? Double == 1e-12, "\(d): \(s)")
            #expect(s["image_size"] as? Int == 8 && s["num_frames"] as? Int == 4, "\(d): \(s)")
            #expect(
                s["image_mean"] as? [Double] == [0.45, 0.45, 0.45]
                    && s["image_std"] as? [Double] == [0.225, 0.225, 0.225], "\(d): \(s)")
            #expect(s["size"] as? [String: Int] == ["shortest_edge": 10] && s["resample"] as? Int == 3, "\(d): \(s)")
            #expect(try #require(s["max_abs_diff"] as? Double) < 1e-6, "\(d): \(s)")
            #expect(
                s["labels"] as? [String] == (d.hasPrefix("pre") ? nil : ["run", "jump", "swim", "sit", "wave"]),
                "\(d): \(s)")
        }
        // The intermediate files hold the settings: our classifier built from them gives transformers' logits.
        let ref = try TensorFile.load(tmp.path + "/ref.safetensors")
        for file in ["a.safetensors", "a.pth"] {
            let path = tmp.path + "/" + file
            let settings = try Weights.settings(path)
            #expect(
                settings.numHeads == 16 && settings.normEps == 1e-12 && settings.fcNormEps == 1e-5
                    && settings.imgSize == 8, "\(file)")
            #expect(
                settings.labels == ["run", "jump", "swim", "sit", "wave"]
                    && settings.preprocessing?.std == [0.225, 0.225, 0.225])
            let state = try Weights.read(path)
            var cfg = try ViTConfig.inferred(
                from: state, numHeads: settings.numHeads, imgSize: settings.imgSize,
                numFrames: settings.numFrames, source: file)
            settings.apply(to: &cfg)
            cfg.dropout = 0
            let model = try VisionTransformer(cfg)
            try model.loadPretrained(state, source: file)
            model.eval()
            #expect(try maxRel(model(ref["x"]!), ref["logits"]!) < 1e-4, "\(file)")
        }
        // mae_st reads the .pth as it reads its own: torch.load(weights_only=True), args a dict of mae_st's names.
        let args = try runPython([interopCheck, "load_pth", tmp.path + "/a.pth"])
        #expect(
            args.contains("\"num_heads\": 16") && args.contains("\"input_size\": 8")
                && args.contains("\"norm_eps\": 1e-12"), "\(args)")
    }

    /// Weights without settings: a standard size (here ViT-H/14's 1280 × 32, 16 heads) gets its heads from the table,
    /// any other size is refused for Hugging Face output until --num_heads says, and recorded once it does.
    @Test(.enabled(if: InteropTests.canConvert, "needs .torch and the stmae binary"))
    func convertInfersOrAsksForTheHeads() throws {
        let tmp = try TempDir()
        var h: [(String, Tensor)] = [
            ("patch_embed.proj.weight", try Tensor.zeros([1280, 3, 2, 14, 14])),
            ("blocks.0.mlp.fc1.weight", try Tensor.zeros([5120, 1280]))
        ]
        for i in 0 ..< 32 { h.append(("blocks.\(i).norm1.weight", try Tensor.ones([1280]))) }
        try Weights.write(h, to: tmp.path + "/h.pth", format: .torch)  // no args, as mae_st's release files
        try convert(tmp.path, ["h.pth", "h.safetensors"])
        #expect(try SafeTensors.readHeader(path: tmp.path + "/h.safetensors").metadata["num_heads"] == "16")
        try convert(tmp.path, ["h.pth", "h_hf", "--img_size", "224"])
        let cj =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: tmp.path + "/h_hf/config.json"))) as? [String: Any]
        #expect(
            cj?["num_attention_heads"] as? Int == 16 && cj?["image_size"] as? Int == 224
                && cj?["num_frames"] as? Int == 16)

        var cfg = tinyClassifier()
        (cfg.sincosPosEmbed, cfg.clsEmbed) = (true, false)  // VideoMAE's layout
        try Weights.write(VisionTransformer(cfg).stateDict(), to: tmp.path + "/t.pth", format: .torch)
        let (status, text) = try runSTMAE(["convert", tmp.path + "/t.pth", tmp.path + "/t_hf"])
        #expect(
            status != 0 && text.contains("t.pth") && text.contains("--num_heads")
                && text.contains("embed_dim 32 with depth 2"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: tmp.path + "/t_hf"))
        let (s2, t2) = try runSTMAE(["convert", tmp.path + "/t.pth", tmp.path + "/t.safetensors"])
        #expect(s2 == 0 && t2.contains("OUT records none (pass --num_heads to record it)"), "\(t2)")
        #expect(try Weights.settings(tmp.path + "/t.safetensors").numHeads == nil)
        try convert(tmp.path, ["t.pth", "t2.safetensors", "--num_heads", "2", "--img_size", "8", "--num_frames", "4"])
        let (s3, t3) = try runSTMAE(["convert", tmp.path + "/t2.safetensors", tmp.path + "/t_hf"])
        #expect(
            s3 == 0 && t3.contains("input mean/std not recorded in IN: wrote ImageNet's")
                && t3.contains("norm eps not recorded"), "\(t3)")
        let (_, back, pre, _) = try HFVideoMAE.read(tmp.path + "/t_hf")
        #expect(
            (back.numHeads, back.imgSize, back.numFrames) == (2, 8, 4)
                && pre.mean == HFVideoMAE.Preprocessing.imagenet.mean)
        try convert(
            tmp.path, ["t2.safetensors", "t_hf2", "--mean", "0.45", "0.45", "0.45", "--std", "0.225", "0.225", "0.225"])
        #expect(HFVideoMAE.preprocessing(tmp.path + "/t_hf2").std == [0.225, 0.225, 0.225])
        let (s4, t4) = try runSTMAE([
            "convert", tmp.path + "/t2.safetensors", tmp.path + "/t_hf3", "--mean", "0.45", "0.45"
        ])
        #expect(s4 != 0 && t4.contains("--mean: expected 3 values, got 2"), "\(t4)")
    }

    /// `stmae convert` shows its progress by bytes (read, then written) with the tensors done: not a terminal here,
    /// so plain lines, the last of each phase at 100% with the rate and the tensor count.
    @Test(.enabled(if: hasProduct("stmae"), "needs the stmae binary"))
    func convertShowsItsProgress() throws {
        let tmp = try TempDir()
        var cfg = tinyClassifier()
        (cfg.sincosPosEmbed, cfg.clsEmbed) = (true, false)  // VideoMAE's layout: every format can take it
        let state = try VisionTransformer(cfg).stateDict()
        let bytes = state.reduce(0) { $0 + $1.1.count * $1.1.dtype.elementSize }
        try Weights.write(state, to: tmp.path + "/a.safetensors", format: .safetensors)
        let mb = String(format: "%.1f", Double(bytes) / 1e6)
        for (out, written) in [("a.pth", state.count), ("a_hf", state.filter { !HFVideoMAE.leavesOut($0.0) }.count)] {
            let (status, text) = try runSTMAE([
                "convert", tmp.path + "/a.safetensors", tmp.path + "/" + out, "--num_heads", "2"
            ])
            #expect(status == 0, "\(text)")
            let lines = text.split(separator: "\n").map(String.init)
            let read = lines.last { $0.hasPrefix("stmae convert: reading \(tmp.path)/a.safetensors ") }
            #expect(
                read?.contains("(100%)") == true && read?.contains("MB/s") == true
                    && read?.hasSuffix(" \(state.count) tensors") == true, "\(text)")
            let wrote = lines.last { $0.hasPrefix("stmae convert: writing \(tmp.path)/\(out) ") }
            #expect(wrote?.hasSuffix(" \(written)/\(written) tensors") == true && wrote?.contains("(100%)") == true)
            if out == "a.pth" { #expect(wrote?.contains(" \(mb)/\(mb) MB ") == true, "\(text)") }
        }
    }
}
