import ArgumentParser
import Foundation
import Models
import Training
import Torch
import Training

/// `stmae convert IN OUT`: mae_st / optimized-stmae `.pth` ⇄ stmae `.safetensors` ⇄ Hugging Face VideoMAE directory.
struct Convert: FlagCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert checkpoints: mae_st .pth ⇄ stmae .safetensors ⇄ Hugging Face VideoMAE directory.",
        discussion: """
            IN: a torch.save file (.pth/.pt/.bin; {"model": …}, {"model_state": …} or a bare state dict), a \
            .safetensors file, an stmae training checkpoint's .json, or a Hugging Face VideoMAE directory (config.json \
            + model.safetensors / pytorch_model.bin).
            OUT: .pth (torch.save {"model": OrderedDict, "args": {…}}, loadable by mae_st), .safetensors, or a \
            directory (Hugging Face; also any path without one of those extensions). .pth ⇄ .safetensors keeps every \
            tensor (decoder included).
            Settings the weights do not fix travel with them: attention heads, input size, frames, LayerNorm eps, \
            input mean/std (with a Hugging Face processor config) and class names. .safetensors keeps them in its \
            metadata, .pth in "args" (a plain dict with mae_st's field names: num_heads, input_size, num_frames, plus \
            norm_eps, fc_norm_eps, mean, std, labels), Hugging Face in config.json and preprocessor_config.json; an \
            stmae checkpoint's .json sidecar and mae_st's args.model are read too. Flags override what IN records.
            Heads not recorded anywhere come from the standard size with the weights' embed_dim and depth (ViT-S \
            384/12: 6, ViT-B 768/12: 12, ViT-L 1024/24: 16, ViT-H 1280/32: 16; stmae's mae_vit_tiny 192/4: 3); any \
            other size needs --num_heads for Hugging Face output (.pth/.safetensors output then records none, and says \
            so). An unrecorded eps is mae_st's 1e-6 and an unrecorded input size of a model without learned positions \
            224 × 16 frames, and unrecorded mean/std ImageNet's in preprocessor_config.json; each is reported.
            To Hugging Face the model must have VideoMAE's layout (fixed sinusoid positions, no cls token): a \
            classifier (fc_norm + head) becomes VideoMAEForVideoClassification, a pre-trained encoder VideoMAEModel; \
            the pre-training decoder is left out and attn.k.bias dropped (softmax ignores it).
            """ + "\n" + flagList(), helpNames: [])

    typealias Settings = ConvertSettings
    @Argument(parsing: .captureForPassthrough, help: "IN OUT --flag value … (see the list below)")
    var arguments: [String] = []

    /// `--to`, else from OUT's extension.
    /// Bytes in a file, or in the files of a directory (Hugging Face), not recursing.
    static func size(of path: String) -> Double {
        let fm = FileManager.default
        let files = (try? fm.contentsOfDirectory(atPath: path))?.map { path + "/" + $0 } ?? [path]
        return files.reduce(0) { $0 + Double((try? fm.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0) }
    }

    static func outputFormat(_ s: ConvertSettings) -> WeightsFormat {
        switch s.to {
        case "pth", "pt", "torch": return .torch
        case "safetensors": return .safetensors
        case "hf", "huggingface": return .huggingFace
        default:  // "" (the flag's range admits nothing else)
            if [".pth", ".pt", ".bin"].contains(where: s.output.hasSuffix) { return .torch }
            return s.output.hasSuffix(".safetensors") ? .safetensors : .huggingFace
        }
    }

    func run() throws {
        guard let s = try self.settings(parse: ConvertSettings.parse(commandLine:)) else { return }
        let (input, output) = (s.input, s.output)
        let fm = FileManager.default
        guard fm.fileExists(atPath: input) else { throw ValidationError("IN '\(input)': no such file or directory") }
        let outFormat = Self.outputFormat(s)
        if fm.fileExists(atPath: output), !s.force {
            throw ValidationError("OUT '\(output)' exists; pass --force to replace it")
        }
        let inFormat = WeightsFormat.detect(input)
        // progress by bytes (rate and ETA on a terminal, a plain line every 10 s otherwise), tensors in the detail
        let source = input.hasSuffix(".json") ? (try? Weights.sidecarWeights(input)) ?? input : input  // its weights
        let reading = TensorProgress("stmae convert: reading \(input)", total: Int(Self.size(of: source)))
        var state: [(String, Tensor)], hfConfig: ViTConfig?, settings: ModelSettings
        if inFormat == .huggingFace {
            let r = try HFVideoMAE.read(input, progress: reading.add)
            (state, hfConfig) = (r.state, r.config)
            settings = ModelSettings(config: r.config, preprocessing: r.preprocessing, labels: r.labels)
        } else {
            state = try Weights.read(input, format: inFormat, progress: reading.add)
            settings = try Weights.settings(input)
        }
        reading.finish(all: true)
        let numHeads = s.numHeads > 0 ? s.numHeads : nil, (mean, std) = (s.mean, s.std)
        if let numHeads, let d = state.first(where: { $0.0 == "patch_embed.proj.weight" })?.1.size(0),
            d % numHeads != 0
        {
            throw ValidationError("--num_heads \(numHeads) does not divide embed_dim \(d)")
        }
        func given<T: Comparable & Numeric>(_ v: T) -> T? { v > 0 ? v : nil }  // 0: what IN records
        settings = ModelSettings(
            numHeads: numHeads, imgSize: given(s.imgSize), numFrames: given(s.numFrames),
            normEps: given(s.normEps)
        ).filled(from: settings)
        if !mean.isEmpty || !std.isEmpty {
            let p = settings.preprocessing
            guard let m = mean.isEmpty ? p?.mean : mean, let s = std.isEmpty ? p?.std : std else {
                throw ValidationError("IN records no input mean/std: pass both --mean and --std")
            }
            settings.preprocessing = .init(mean: m, std: s, processorConfig: p?.processorConfig)
        }
        if !s.labels.isEmpty {
            let labels = s.labels
            guard let text = try? String(contentsOfFile: labels, encoding: .utf8) else {
                throw ValidationError("--labels '\(labels)': cannot read")
            }
            settings.labels = text.split(whereSeparator: \.isNewline).map(String.init)
        }
        var notes: [String] = []
        switch outFormat {
        case .torch, .safetensors:
            // Record what the weights fix, or the standard size's heads, unless IN or the flags already say.
            if hfConfig == nil, let c = try? ViTConfig.inferred(from: state, numHeads: settings.numHeads, source: input)
            {
                settings.numHeads = c.numHeads
                if state.contains(where: { $0.0.hasPrefix("pos_embed") }) {
                    settings = settings.filled(from: ModelSettings(imgSize: c.imgSize, numFrames: c.numFrames))
                }
            }
            if settings.numHeads == nil, state.first(where: { $0.0 == "patch_embed.proj.weight" })?.1.rank == 5 {
                notes.append(
                    "the attention head count is not recorded in IN and its sizes are no standard model's: "
                        + "OUT records none (pass --num_heads to record it)")
            }
            let writing = TensorProgress("stmae convert: writing \(output)", of: state)
            try Weights.write(state, to: output, format: outFormat, settings: settings, progress: writing.add)
            writing.finish()
        case .huggingFace:
            var cfg =
                try hfConfig
                ?? ViTConfig.inferred(
                    from: state, numHeads: settings.numHeads, imgSize: settings.imgSize,
                    numFrames: settings.numFrames, source: input)
            if hfConfig == nil {
                if settings.normEps == nil {
                    notes.append("norm eps not recorded in IN: wrote mae_st's 1e-6 (pass --norm_eps to change)")
                }
                if !state.contains(where: { $0.0.hasPrefix("pos_embed") }),
                    settings.imgSize == nil || settings.numFrames == nil
                {
                    notes.append(
                        "input size not recorded in IN: wrote \(cfg.imgSize) px × \(cfg.numFrames) frames (pass "
                            + "--img_size / --num_frames to change)"
                    )
                }
            }
            if settings.preprocessing == nil {
                notes.append(
                    "input mean/std not recorded in IN: wrote ImageNet's to preprocessor_config.json (pass "
                        + "--mean / --std to change; mae_st trains with 0.45 / 0.225)"
                )
            }
            settings.apply(to: &cfg)
            guard cfg.embedDim % cfg.numHeads == 0 else {
                throw ValidationError("--num_heads \(cfg.numHeads) does not divide embed_dim \(cfg.embedDim)")
            }
            var skipped: [String] = []
            let writing = TensorProgress(
                "stmae convert: writing \(output)", of: state.filter { !HFVideoMAE.leavesOut($0.0) })
            try writeFolderAtomically(output) {  // config, weights and preprocessing as one piece
                skipped = try HFVideoMAE.write(
                    state, config: cfg, to: $0, labels: settings.labels,
                    preprocessing: settings.preprocessing ?? .imagenet, progress: writing.add)
            }
            writing.finish()
            if !skipped.isEmpty { notes.append("left out \(skipped.count) (decoder / k bias)") }
        }
        print(
            "stmae convert: \(input) (\(inFormat.rawValue), \(state.count) tensors) → \(output) (\(outFormat.rawValue))"
        )
        for n in notes { print("stmae convert: note: \(n)") }
    }
}

/// `stmae convert`'s progress: a `ProgressLine` counting bytes (of `total`), the tensors done in its detail.
final class TensorProgress {
    let line: ProgressLine
    let total: Int
    var bytes = 0, tensors = 0

    init(_ label: String, total: Int) {
        self.total = total
        line = ProgressLine(label, total: total, bytes: true)
    }

    /// Writing `state`: its tensors' bytes are the total.
    convenience init(_ label: String, of state: [(String, Tensor)]) {
        self.init(label, total: state.reduce(0) { $0 + $1.1.count * $1.1.dtype.elementSize })
        expected = state.count
    }
    private var expected: Int?

    /// One tensor of `n` bytes done.
    func add(_ n: Int) {
        bytes += n
        tensors += 1
        line.update(bytes, detail: self.detail)
    }

    var detail: String {
        "\(tensors)\(expected.map { "/\($0)" } ?? "") " + ((expected ?? tensors) == 1 ? "tensor" : "tensors")
    }

    /// The last line; `all`: the whole input was read (its bytes beyond the tensors' are headers and the pickle).
    func finish(all: Bool = false) { line.finish(all ? max(total, bytes) : bytes, detail: detail) }
}
