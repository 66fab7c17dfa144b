import Foundation
import NN
import TensorFiles
import Torch

/// On-disk layouts of model weights.
public enum WeightsFormat: String, CaseIterable, Sendable {
    /// stmae / safetensors file with mae_st keys (`blocks.0.attn.q.weight`).
    case safetensors
    /// `torch.save` zip (`.pth`): `{"model": state_dict}` (mae_st, optimized-stmae), `{"model_state": ...}` (mae_st
    /// release checkpoints), `{"state_dict": ...}` or a bare state dict.
    case torch
    /// Hugging Face VideoMAE directory: `config.json` + `model.safetensors` / `pytorch_model.bin`.
    case huggingFace

    /// The format of `path`: a directory is Hugging Face, `.safetensors` (or an stmae checkpoint's `.json` sidecar)
    /// safetensors, anything else torch.save.
    public static func detect(_ path: String) -> WeightsFormat {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue { return .huggingFace }
        // .json: stmae sidecar
        return path.hasSuffix(".safetensors") || path.hasSuffix(".json") ? .safetensors : .torch
    }
}

/// Reading and writing state dicts in mae_st keys.
public enum Weights {
    /// The state dict at `path` in mae_st keys (Hugging Face directories are mapped, see `HFVideoMAE`).
    /// `progress`: called with each tensor's byte count once it is read from the file.
    public static func read(_ path: String, format: WeightsFormat? = nil, progress: ((Int) -> Void)? = nil) throws
        -> [(String, Tensor)]
    {
        switch format ?? WeightsFormat.detect(path) {
        case .safetensors:
            return strippingWrapperPrefixes(
                try TensorFile.loadOrdered(path.hasSuffix(".json") ? sidecarWeights(path) : path, progress: progress)
                    .tensors)
        case .torch:
            return try strippingWrapperPrefixes(
                TorchCheckpoint.loadStateDict(path: path, progress: progress).map { ($0.0, try Tensor($0.1)) })
        case .huggingFace: return try HFVideoMAE.read(path, progress: progress).state
        }
    }

    /// Keys without the prefixes wrappers add when every key has one: `module.` (DistributedDataParallel) and
    /// `_orig_mod.` (torch.compile), in any nesting.
    public static func strippingWrapperPrefixes(_ sd: [(String, Tensor)]) -> [(String, Tensor)] {
        var sd = sd
        while let p = ["module.", "_orig_mod."].first(where: { p in !sd.isEmpty && sd.allSatisfy { $0.0.hasPrefix(p) } }
        ) {
            sd = sd.map { (String($0.0.dropFirst(p.count)), $0.1) }
        }
        return sd
    }

    /// The weights file an stmae training checkpoint's `.json` sidecar names (`"weights"`, relative to its folder).
    public static func sidecarWeights(_ json: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: json) else { throw TorchError("\(json): file not found") }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let w = obj["weights"] as? String
        else {
            throw TorchError("\(json): not an stmae checkpoint sidecar (no \"weights\" entry)")
        }
        return w.hasPrefix("/") ? w : (json as NSString).deletingLastPathComponent + "/" + w
    }

    /// What the checkpoint at `path` records besides its weights (see `ModelSettings`): a `.pth`'s `args`; a
    /// `.safetensors` file's metadata, then its stmae training sidecar (`x.json` next to `x.safetensors`, or the
    /// `.json` given); a Hugging Face directory's config. Empty when there is none.
    public static func settings(_ path: String) throws -> ModelSettings {
        switch WeightsFormat.detect(path) {
        case .torch:
            guard let args = try TorchCheckpoint.load(path: path).value(at: ["args"]), args.dictValue != nil else {
                return ModelSettings()
            }
            return ModelSettings(args: args)
        case .safetensors:
            let sidecar = path.hasSuffix(".json") ? path : String(path.dropLast(".safetensors".count)) + ".json"
            let weights = path.hasSuffix(".json") ? try sidecarWeights(path) : path
            let meta = try ModelSettings(metadata: SafeTensors.readHeader(path: weights).metadata, source: weights)
            return meta.filled(from: sidecarSettings(sidecar))
        case .huggingFace: return try HFVideoMAE.settings(path)
        }
    }

    /// An stmae training sidecar's `config`: `num_heads` (0: the model's), else `model`'s heads; `img_size`,
    /// `num_frames`, `mean`, `std`; the eps of a named model (`videomae_*`: 1e-12, fc_norm 1e-5; others 1e-6); and
    /// a fine-tuning run's `classNames` as the labels.
    static func sidecarSettings(_ json: String) -> ModelSettings {
        guard let data = FileManager.default.contents(atPath: json),
            let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let c = obj["config"] as? [String: Any]
        else { return ModelSettings() }
        let model = c["model"] as? String
        var s = ModelSettings()
        s.numHeads =
            (c["num_heads"] as? Int).flatMap { $0 > 0 ? $0 : nil }
            ?? model.flatMap { ViTConfig.standardNumHeads(model: $0) }
        (s.imgSize, s.numFrames) = (c["img_size"] as? Int, c["num_frames"] as? Int)
        if let model, let named = try? ViTConfig.named(model) {
            (s.normEps, s.fcNormEps) = (named.normEps, named.fcNormEps)
        }
        if let m = c["mean"] as? [Double], let sd = c["std"] as? [Double] { s.preprocessing = .init(mean: m, std: sd) }
        s.labels = obj["classNames"] as? [String] ?? []  // a fine-tuning run's class list (label i = classNames[i])
        return s
    }

    /// Writes mae_st-keyed tensors as safetensors (`settings` in its metadata), or as a torch.save
    /// `{"model": OrderedDict, "args": {…}}` (mae_st layout; `args` only when `settings` holds something).
    /// `progress`: called with each tensor's byte count once it is written.
    public static func write(
        _ state: [(String, Tensor)], to path: String, format: WeightsFormat, settings: ModelSettings = ModelSettings(),
        progress: ((Int) -> Void)? = nil
    ) throws {
        switch format {
        case .safetensors:
            try TensorFile.save(
                state, metadata: settings.metadata.merging(["format": "pt"]) { a, _ in a }, to: path,
                progress: progress)
        case .torch:
            try TorchCheckpoint.save(
                stateDict: state.map { ($0.0, try $0.1.contiguous().rawTensor()) },
                extra: settings.isEmpty ? [] : [("args", settings.pickleArgs)], to: path, progress: progress)
        case .huggingFace:
            throw TorchError("writing a Hugging Face directory needs a model config: use HFVideoMAE.write")
        }
    }
}

/// What `VisionTransformer.loadPretrained` did.
public struct PretrainedLoadReport: CustomStringConvertible {
    public var load = LoadReport()
    /// Checkpoint keys the classifier does not use (decoder, mask_token, `norm` with global pool,
    /// a head of another size).
    public var dropped: [String] = []
    /// Positional embeddings resized to the classifier's grid.
    public var interpolated: [String] = []
    /// Classifier tensors not in the checkpoint, freshly initialised (head, fc_norm).
    public var initialized: [String] = []
    public var description: String {
        var lines = [load.description]
        if !dropped.isEmpty {
            lines.append("dropped (unused by the classifier) (\(dropped.count)): " + dropped.joined(separator: ", "))
        }
        if !interpolated.isEmpty { lines.append("interpolated: " + interpolated.joined(separator: "; ")) }
        if !initialized.isEmpty { lines.append("freshly initialised: " + initialized.joined(separator: ", ")) }
        return lines.joined(separator: "\n")
    }
}

extension VisionTransformer {
    /// Loads a pre-trained MAE or MaskFeat (or a fine-tuned classifier) as mae_st's fine-tuning does: decoder keys,
    /// `mask_token` and MaskFeat's `pred_head` are dropped, `norm.*` too with global pool; a head of another shape is
    /// dropped; missing `head`/`fc_norm` are initialised fresh (`head.weight` trunc-normal(`headInitStd`), mae_st:
    /// 2e-5); `pos_embed_spatial` is resized bicubically over the 2-D grid and `pos_embed_temporal` linearly
    /// (align_corners false) when the grid differs, a joint `pos_embed` per axis the same way (see
    /// `resizeJointPosEmbed`). `strict`: any other missing, unexpected or shape-mismatched key is an error listing them
    /// all; otherwise they are skipped and listed in the report. `source` names the file in errors.
    ///
    /// `normAsFcNorm` (global pool only): use the checkpoint's `norm.*` as `fc_norm.*` when it has no `fc_norm` —
    /// mae_st's own classifier pools `x[:, 1:].mean(1)` and then applies `norm`, so its fine-tuned checkpoints keep
    /// the post-pool norm under `norm.*`, and its fine-tuning starts that norm from the MAE encoder's.
    @discardableResult
    public func loadPretrained(
        _ state: [(String, Tensor)], source: String = "checkpoint", strict: Bool = true,
        headInitStd: Double = 2e-5, normAsFcNorm: Bool = false,
        generator: Generator? = nil
    ) throws -> PretrainedLoadReport {
        var report = PretrainedLoadReport()
        let own = Dictionary(uniqueKeysWithValues: namedTensors().map { ($0.0, $0.1.shape) })
        var kept: [String: Tensor] = [:]
        var state = state
        if normAsFcNorm, fcNorm != nil, !state.contains(where: { $0.0.hasPrefix("fc_norm.") }) {
            state = state.map { $0.0.hasPrefix("norm.") ? ("fc_" + $0.0, $0.1) : $0 }
        }
        for (key, t) in state {
            let unused =
                key.hasPrefix("decoder") || key == "mask_token" || key.hasPrefix("pred_head.")
                || (fcNorm != nil && key.hasPrefix("norm."))
                || (key.hasPrefix("head.") && own[key] != nil && own[key]! != t.shape)
            if unused { report.dropped.append(key); continue }
            kept[key] = t
        }
        for (key, grid) in [
            ("pos_embed_spatial", [patchEmbed.gridSize, patchEmbed.gridSize]), ("pos_embed_temporal", [tGrid])
        ] {
            guard let t = kept[key], let want = own[key], t.shape != want, t.rank == 3, t.size(0) == 1,
                t.size(2) == want[2]
            else { continue }
            let resized = try resizePosEmbed(t, to: grid)
            report.interpolated.append(
                "\(key): \(t.shape) → \(resized.shape) (\(grid.count == 2 ? "bicubic" : "linear"))")
            kept[key] = resized
        }
        if let t = kept["pos_embed"], let want = own["pos_embed"], t.shape != want, t.rank == 3, t.size(0) == 1,
            t.size(2) == want[2],
            (kept["cls_token"] != nil) == (clsToken != nil)
        {  // a cls mismatch is reported by the load below
            let resized = try resizeJointPosEmbed(t, source: source)
            report.interpolated.append("pos_embed: \(t.shape) → \(resized.shape) (bicubic over H×W, linear over T)")
            kept["pos_embed"] = resized
        }
        let fresh = ["head.weight", "head.bias", "fc_norm.weight", "fc_norm.bias"].filter {
            own[$0] != nil && kept[$0] == nil
        }
        report.load = try loadStateDict(kept, strict: false)
        report.load.missing.removeAll { fresh.contains($0) }
        if !fresh.isEmpty {
            report.initialized = fresh
            // mae_st (`fcNorm` false) keeps nn.Linear's default head bias U(±1/√D); the image MAE (timm) zeroes it
            if fresh.contains("head.bias") {
                if config.globalPool && !config.fcNorm {
                    try Init.torchDefault(weight: head.weight, bias: head.bias, generator: generator)
                } else {
                    try Init.constant(head.bias!, 0)
                }
            }
            if fresh.contains("head.weight") {
                try Init.truncNormal(head.weight, std: headInitStd, generator: generator)
            }
            if let fcNorm, fresh.contains("fc_norm.weight") { try Init.constant(fcNorm.weight, 1) }
            if let fcNorm, fresh.contains("fc_norm.bias") { try Init.constant(fcNorm.bias, 0) }
        }
        if strict, !report.load.isClean {
            let pos =
                (report.load.missing + report.load.unexpected).contains { $0.hasPrefix("pos_embed") }
                ? "\n(positions: `pos_embed_spatial`/`_temporal` are sep_pos_embed true, one `pos_embed` is "
                    + "sep_pos_embed false (--no_sep_pos_embed), none is the fixed sinusoid (--sincos_pos_embed))" : ""
            throw TorchError(
                "\(source) does not match the classifier (strict loading; does --model match the checkpoint?):\n"
                    + "\(report.load)\(pos)"
            )
        }
        return report
    }

    /// A joint table [1, (1 +) L', D] of another grid → this model's [1, (1 +) T'·g·g, D]: the cls row kept, the
    /// patch rows resized per axis, bicubic over each frame's g'×g' grid, then linear over T' (align_corners false)
    /// — the separable resize applied to a joint table (mae_st resizes it as one square 2-D grid, which a video grid
    /// is not). The source grid: this model's T' with a square g' (a new resolution), else this g with another T'.
    func resizeJointPosEmbed(_ t: Tensor, source: String = "checkpoint") throws -> Tensor {
        let (c, d, g, tg) = (clsToken == nil ? 0 : 1, t.size(2), patchEmbed.gridSize, tGrid)
        let l = t.size(1) - c
        func square(_ n: Int) -> Int? { let r = Int(Double(n).squareRoot().rounded()); return r * r == n ? r : nil }
        let (t0, g0): (Int, Int)
        if l % tg == 0, let r = square(l / tg) {
            (t0, g0) = (tg, r)
        } else if l % (g * g) == 0 {
            (t0, g0) = (l / (g * g), g)
        } else {
            throw TorchError(
                "\(source): pos_embed has \(l) patch positions, not \(tg)×g'×g' nor T'×\(g)×\(g): "
                    + "cannot tell its grid to resize it to \(tg)×\(g)×\(g) "
                    + "(set --num_frames/--img_size to the checkpoint's)"
            )
        }
        // [T0, D, g0, g0]
        var x = try t.slice(dim: 1, start: c).reshape([t0, g0, g0, d]).permute(0, 3, 1, 2).to(.float32)
        if g0 != g { x = try interpolate(x, size: [g, g], mode: .bicubic) }
        x = try x.permute(2, 3, 1, 0).reshape([g * g, d, t0])  // [g·g, D, T0]
        if t0 != tg { x = try interpolate(x, size: [tg], mode: .linear) }
        let patches = try x.permute(2, 0, 1).reshape([1, tg * g * g, d]).to(t.dtype)
        return c == 0 ? patches : try Tensor.cat([t.slice(dim: 1, end: c), patches], dim: 1)
    }

    /// [1, n, D] on a grid of `from` → [1, Π grid, D]: 2-D grids bicubic, 1-D linear (align_corners false, as
    /// DeiT/MAE).
    func resizePosEmbed(_ t: Tensor, to grid: [Int]) throws -> Tensor {
        let (n, d) = (t.size(1), t.size(2))
        if grid.count == 2 {
            let g = Int(Double(n).squareRoot().rounded())
            guard g * g == n else { throw TorchError("pos_embed_spatial has \(n) positions: not a square grid") }
            let img = try t.reshape([1, g, g, d]).permute(0, 3, 1, 2).to(.float32)
            return try interpolate(img, size: grid, mode: .bicubic).permute(0, 2, 3, 1).reshape([
                1, grid[0] * grid[1], d
            ])
        }
        return try interpolate(t.permute(0, 2, 1).to(.float32), size: grid, mode: .linear).permute(0, 2, 1).contiguous()
    }
}

extension ViTConfig {
    /// The classifier/encoder config a state dict (mae_st keys) describes: sizes from `patch_embed.proj.weight`
    /// [D, 3, t, p, p], block count, MLP width, biases, cls token, positions (the grid from `pos_embed_*`; without
    /// learned positions `imgSize`/`numFrames` are needed), pooling (`fc_norm` → global pool, `norm` alone → cls)
    /// and `head`. Weights do not fix the head count: `numHeads`, else the standard size's with this embed dim and
    /// depth (`ModelSize.standard`); for any other size it is an error naming `source` and `--num_heads`. Nor the norm
    /// eps (the caller sets it, see `ModelSettings`).
    public static func inferred(
        from state: [(String, Tensor)], numHeads: Int? = nil, imgSize: Int? = nil,
        numFrames: Int? = nil, source: String = "checkpoint"
    ) throws -> ViTConfig {
        let d = Dictionary(state, uniquingKeysWith: { a, _ in a })
        guard let proj = d["patch_embed.proj.weight"], proj.rank == 5 else {
            throw TorchError(
                "\(source): no 'patch_embed.proj.weight' [D, 3, t, p, p] — not a ViT/MAE state dict in mae_st keys")
        }
        var c = ViTConfig()
        (c.embedDim, c.inChans, c.tPatchSize, c.patchSize) = (proj.size(0), proj.size(1), proj.size(2), proj.size(3))
        c.depth =
            Set(
                d.keys.compactMap { k -> Int? in
                    k.hasPrefix("blocks.") ? Int(k.split(separator: ".")[1]) : nil
                }
            ).count
        guard c.depth > 0, let fc1 = d["blocks.0.mlp.fc1.weight"] else {
            throw TorchError("\(source): no 'blocks.0.*' keys")
        }
        c.mlpRatio = Double(fc1.size(0)) / Double(c.embedDim)
        guard let heads = numHeads ?? standardNumHeads(embedDim: c.embedDim, depth: c.depth) else {
            throw TorchError(
                "\(source): the attention head count is not recorded, and embed_dim \(c.embedDim) with depth "
                    + "\(c.depth) is no standard size (\(standardSizesText)); pass --num_heads")
        }
        guard heads > 0, c.embedDim % heads == 0 else {
            throw TorchError(
                "\(source): \(heads) attention heads do not divide embed_dim \(c.embedDim); pass --num_heads")
        }
        c.numHeads = heads
        c.qkvBias = d["blocks.0.attn.q.bias"] != nil
        c.kBias = (d["blocks.0.attn.k.bias"] != nil) == c.qkvBias ? nil : d["blocks.0.attn.k.bias"] != nil
        c.clsEmbed = d["cls_token"] != nil
        c.globalPool = d["fc_norm.weight"] != nil || d["norm.weight"] == nil || !c.clsEmbed
        if let head = d["head.weight"] { c.numClasses = head.size(0) }
        if let s = d["pos_embed_spatial"], let t = d["pos_embed_temporal"] {
            c.sepPosEmbed = true
            let g = Int(Double(s.size(1)).squareRoot().rounded())
            (c.imgSize, c.numFrames) = (g * c.patchSize, t.size(1) * c.tPatchSize)
        } else if let pe = d["pos_embed"] {  // learned joint table [1, (1 +) T'·g·g, D]
            c.sepPosEmbed = false
            try c.inferJointGrid(
                positions: pe.size(1) - (c.clsEmbed ? 1 : 0), imgSize: imgSize, numFrames: numFrames, source: source)
        } else {
            // no stored positions: the fixed sinusoid (HF VideoMAE; stmae checkpoints with sep_pos_embed false before
            // the joint table)
            (c.sepPosEmbed, c.sincosPosEmbed) = (false, true)
            if let imgSize { c.imgSize = imgSize }
            if let numFrames { c.numFrames = numFrames }
        }
        // positions get resized on load
        if let imgSize, c.posEmbedType != .sinusoid, imgSize != c.imgSize { c.imgSize = imgSize }
        if let numFrames, c.posEmbedType != .sinusoid, numFrames != c.numFrames { c.numFrames = numFrames }
        return c
    }
}

extension ViTConfig {
    /// `imgSize`/`numFrames` of a joint table with `l` patch positions (T'·g·g): from the given sizes (both must
    /// agree with `l`; one alone fixes the other), else from this config's when they agree, else an error asking for
    /// them.
    mutating func inferJointGrid(positions l: Int, imgSize: Int?, numFrames: Int?, source: String) throws {
        let (p, u) = (dims.patchSize, tPatchSize)
        func grid(img: Int?, frames: Int?) -> (Int, Int)? {
            if let img {
                let s = (img / p) * (img / p)
                guard img % p == 0, s > 0, l % s == 0, frames == nil || frames! == l / s * u else { return nil }
                return (img, l / s * u)
            }
            guard let frames, frames % u == 0, frames > 0, l % (frames / u) == 0 else { return nil }
            let g = Int(Double(l / (frames / u)).squareRoot().rounded())
            return g * g == l / (frames / u) ? (g * p, frames) : nil
        }
        let tries: [(Int?, Int?)] =
            imgSize != nil || numFrames != nil
            ? [(imgSize, numFrames), (imgSize, nil), (nil, numFrames)] : [(self.imgSize, self.numFrames)]
        for (img, frames) in tries where img != nil || frames != nil {
            if let (i, f) = grid(img: img, frames: frames) { (self.imgSize, self.numFrames) = (i, f); return }
        }
        throw TorchError(
            "\(source): the joint pos_embed has \(l) patch positions (T'·g·g, patch \(p), t_patch \(u)); pass the "
                + "clip size it was trained with (--img_size / --num_frames)")
    }
}
