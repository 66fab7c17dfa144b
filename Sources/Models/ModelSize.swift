/// A video ViT's size: width, blocks, heads, patch, and the clip it is built for. The one table of sizes: the model
/// catalogue builds every named model from it, and a checkpoint's inferred sizes look their head count up in it
/// (`standard(embedDim:depth:)`).
public struct ModelSize: Equatable, Sendable, CustomStringConvertible {
    /// The size's usual name without the patch (`ViT-B`).
    public var name: String
    public var embedDim: Int
    public var depth: Int
    public var numHeads: Int
    public var patchSize: Int
    public var imgSize: Int
    public var numFrames: Int

    public init(
        _ name: String, embedDim: Int, depth: Int, numHeads: Int, patchSize: Int = 16, imgSize: Int = 224,
        numFrames: Int = 16
    ) {
        (self.name, self.embedDim, self.depth, self.numHeads) = (name, embedDim, depth, numHeads)
        (self.patchSize, self.imgSize, self.numFrames) = (patchSize, imgSize, numFrames)
    }

    public static let small = ModelSize("ViT-S", embedDim: 384, depth: 12, numHeads: 6)
    public static let base = ModelSize("ViT-B", embedDim: 768, depth: 12, numHeads: 12)
    public static let large = ModelSize("ViT-L", embedDim: 1024, depth: 24, numHeads: 16)
    /// mae_st's ViT-H/14 (16 heads of 80 channels: the count does not follow from the width).
    public static let huge = ModelSize("ViT-H", embedDim: 1280, depth: 32, numHeads: 16, patchSize: 14)
    /// stmae's test size (`*_tiny`): 64 px, 8 frames.
    public static let tiny = ModelSize("stmae tiny", embedDim: 192, depth: 4, numHeads: 3, imgSize: 64, numFrames: 8)

    /// Every size, in order; embed dim and depth together identify one.
    public static let standard: [ModelSize] = [.small, .base, .large, .huge, .tiny]

    /// The standard size with this embed dim and depth (any patch); nil for any other.
    public static func standard(embedDim: Int, depth: Int) -> ModelSize? {
        standard.first { $0.embedDim == embedDim && $0.depth == depth }
    }

    /// The same size with another patch or clip.
    public func with(patchSize: Int? = nil, numFrames: Int? = nil) -> ModelSize {
        var s = self
        if let patchSize { s.patchSize = patchSize }
        if let numFrames { s.numFrames = numFrames }
        return s
    }

    /// `ViT-B/16`.
    public var description: String { "\(name)/\(patchSize)" }

    /// `ViT-B 768/12/12`: the numbers a state dict does not fix, for messages.
    public var sizesText: String { "\(name) \(embedDim)/\(depth)/\(numHeads)" }
}

/// The size fields every video ViT config has (stored flat, under the same snake_case keys in every checkpoint and
/// settings JSON); `size` reads and writes them together.
public protocol ViTSized {
    var embedDim: Int { get set }
    var depth: Int { get set }
    var numHeads: Int { get set }
    var patchSize: Int { get set }
    var imgSize: Int { get set }
    var numFrames: Int { get set }
}

extension ViTSized {
    /// The config's size (named after the standard size with its embed dim and depth, else `custom`).
    public var size: ModelSize {
        get {
            ModelSize(
                ModelSize.standard(embedDim: embedDim, depth: depth)?.name ?? "custom", embedDim: embedDim,
                depth: depth,
                numHeads: numHeads, patchSize: patchSize, imgSize: imgSize, numFrames: numFrames)
        }
        set {
            (embedDim, depth, numHeads) = (newValue.embedDim, newValue.depth, newValue.numHeads)
            (patchSize, imgSize, numFrames) = (newValue.patchSize, newValue.imgSize, newValue.numFrames)
        }
    }
}

extension MAEConfig: ViTSized {}
extension ViTConfig: ViTSized {}
extension TimeSformerConfig: ViTSized {}
extension ViViTConfig: ViTSized {}
extension MaskFeatConfig: ViTSized {}
