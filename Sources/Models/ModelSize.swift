/// The numbers of a video ViT's size: width, blocks, heads, patch, and the clip it is built for. Every model config
/// holds one (`ViTSized.dims`); in a config's JSON (`kwargs`, checkpoint settings) its fields stand flat, under their
/// own snake_case keys (`embed_dim`, `depth`, `num_heads`, `patch_size`, `img_size`, `num_frames`).
public struct ViTDims: Codable, Equatable, Sendable {
    public var embedDim: Int
    public var depth: Int
    public var numHeads: Int
    public var patchSize: Int
    public var imgSize: Int
    public var numFrames: Int

    public init(embedDim: Int, depth: Int, numHeads: Int, patchSize: Int = 16, imgSize: Int = 224, numFrames: Int = 16)
    {
        (self.embedDim, self.depth, self.numHeads) = (embedDim, depth, numHeads)
        (self.patchSize, self.imgSize, self.numFrames) = (patchSize, imgSize, numFrames)
    }

    /// The snake_case keys of the fields (a config's JSON holds them flat).
    static let keys: Set<String> = ["embed_dim", "depth", "num_heads", "patch_size", "img_size", "num_frames"]
}

/// A named video ViT size (`ViT-B`: `dims`; `size.embedDim` reads `size.dims.embedDim`). The one table of sizes: the
/// model catalogue builds every named model from it, and a checkpoint's inferred sizes look their head count up in it
/// (`standard(embedDim:depth:)`).
@dynamicMemberLookup
public struct ModelSize: Equatable, Sendable, CustomStringConvertible {
    /// The size's usual name without the patch (`ViT-B`).
    public var name: String
    public var dims: ViTDims

    public init(
        _ name: String, embedDim: Int, depth: Int, numHeads: Int, patchSize: Int = 16, imgSize: Int = 224,
        numFrames: Int = 16
    ) {
        self.init(
            name,
            ViTDims(
                embedDim: embedDim, depth: depth, numHeads: numHeads, patchSize: patchSize, imgSize: imgSize,
                numFrames: numFrames))
    }

    public init(_ name: String, _ dims: ViTDims) { (self.name, self.dims) = (name, dims) }

    public subscript<T>(dynamicMember field: WritableKeyPath<ViTDims, T>) -> T {
        get { dims[keyPath: field] }
        set { dims[keyPath: field] = newValue }
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
    public var description: String { "\(name)/\(dims.patchSize)" }

    /// `ViT-B 768/12/12`: the numbers a state dict does not fix, for messages.
    public var sizesText: String { "\(name) \(dims.embedDim)/\(dims.depth)/\(dims.numHeads)" }
}

/// A model config: its size fields are `dims` (`c.embedDim` reads `c.dims.embedDim`); `size` reads and writes them
/// together.
@dynamicMemberLookup
public protocol ViTSized {
    var dims: ViTDims { get set }
}

extension ViTSized {
    public subscript<T>(dynamicMember field: WritableKeyPath<ViTDims, T>) -> T {
        get { dims[keyPath: field] }
        set { dims[keyPath: field] = newValue }
    }

    /// The config's size (named after the standard size with its embed dim and depth, else `custom`).
    public var size: ModelSize {
        get { ModelSize(ModelSize.standard(embedDim: dims.embedDim, depth: dims.depth)?.name ?? "custom", dims) }
        set { dims = newValue.dims }
    }
}
