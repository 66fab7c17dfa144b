import ArgumentParser
import Foundation
import Models
import Torch

/// `stmae convert IN OUT`: mae_st / optimized-stmae `.pth` ⇄ stmae `.safetensors` ⇄ Hugging Face VideoMAE directory.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert checkpoints: mae_st .pth ⇄ stmae .safetensors ⇄ Hugging Face VideoMAE directory.",
        discussion: """
            IN: a torch.save file (.pth/.pt/.bin; {"model": …}, {"model_state": …} or a bare state dict), a .safetensors \
            file, an stmae training checkpoint's .json, or a Hugging Face VideoMAE directory (config.json + model.safetensors / pytorch_model.bin).
            OUT: .pth (torch.save {"model": OrderedDict}, loadable by mae_st), .safetensors, or a directory (Hugging Face; \
            also any path without one of those extensions). .pth ⇄ .safetensors keeps every tensor (decoder included).
            To Hugging Face the model must have VideoMAE's layout (fixed sinusoid positions, no cls token): a classifier \
            (fc_norm + head) becomes VideoMAEForVideoClassification, a pre-trained encoder VideoMAEModel; the pre-training \
            decoder is left out and attn.k.bias dropped (softmax ignores it).
            """)

    @Argument(help: "Input checkpoint file or Hugging Face directory.") var input: String
    @Argument(help: "Output path (.pth, .safetensors, or a directory for Hugging Face).") var output: String
    @Option(name: .customLong("to"), help: "Output format: pth, safetensors or hf (default: from OUT's extension).") var to: String?
    @Option(name: .customLong("num_heads"), help: "Attention heads for Hugging Face output (default: the checkpoint's args.model / stmae sidecar, else embed_dim / 64).") var numHeads: Int?
    @Option(name: .customLong("img_size"), help: "Input size when the checkpoint has no learned positions (Hugging Face output).") var imgSize: Int?
    @Option(name: .customLong("num_frames"), help: "Frames when the checkpoint has no learned positions (Hugging Face output).") var numFrames: Int?
    @Option(name: .customLong("norm_eps"), help: "Block LayerNorm eps written to config.json (mae_st: 1e-6, VideoMAE: 1e-12).") var normEps: Double = 1e-6
    @Option(name: .customLong("labels"), help: "Class names, one per line (Hugging Face id2label).") var labels: String?
    @Flag(name: .customLong("force"), help: "Replace an existing OUT.") var force = false

    func outputFormat() throws -> WeightsFormat {
        switch to ?? "" {
        case "pth", "pt", "torch": return .torch
        case "safetensors": return .safetensors
        case "hf", "huggingface": return .huggingFace
        case "":
            if output.hasSuffix(".pth") || output.hasSuffix(".pt") || output.hasSuffix(".bin") { return .torch }
            return output.hasSuffix(".safetensors") ? .safetensors : .huggingFace
        default: throw ValidationError("--to '\(to!)': expected pth, safetensors or hf")
        }
    }

    func run() throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: input) else { throw ValidationError("IN '\(input)': no such file or directory") }
        let outFormat = try outputFormat()
        if fm.fileExists(atPath: output), !force { throw ValidationError("OUT '\(output)' exists; pass --force to replace it") }
        let inFormat = WeightsFormat.detect(input)
        var state: [(String, Tensor)], hfConfig: ViTConfig?, classNames: [String] = []
        if inFormat == .huggingFace {
            let r = try HFVideoMAE.read(input)
            (state, hfConfig, classNames) = (r.state, r.config, r.labels)
        } else {
            state = try Weights.read(input, format: inFormat)
        }
        if let labels {
            guard let text = try? String(contentsOfFile: labels, encoding: .utf8) else { throw ValidationError("--labels '\(labels)': cannot read") }
            classNames = text.split(whereSeparator: \.isNewline).map(String.init)
        }
        var note = ""
        switch outFormat {
        case .torch, .safetensors:
            try Weights.write(state, to: output, format: outFormat)
        case .huggingFace:
            var cfg = try hfConfig ?? ViTConfig.inferred(from: state, numHeads: numHeads ?? Weights.numHeadsHint(input), imgSize: imgSize, numFrames: numFrames, source: input)
            if hfConfig == nil { cfg.normEps = normEps }
            if let numHeads { cfg.numHeads = numHeads }
            guard cfg.embedDim % cfg.numHeads == 0 else { throw ValidationError("--num_heads \(cfg.numHeads) does not divide embed_dim \(cfg.embedDim)") }
            let skipped = try HFVideoMAE.write(state, config: cfg, to: output, labels: classNames)
            if !skipped.isEmpty { note = ", left out \(skipped.count) (decoder / k bias)" }
        }
        print("stmae convert: \(input) (\(inFormat.rawValue), \(state.count) tensors) → \(output) (\(outFormat.rawValue)\(note))")
    }
}
