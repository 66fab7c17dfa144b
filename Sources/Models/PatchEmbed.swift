import Foundation
import NN
import Torch

/// Video to tokens: Conv3d with kernel = stride = (t_patch, p, p). x: [N, 3, T, H, W] → [N, T', S, D], t-major.
public final class PatchEmbed: Module {
    public var training = true
    public let proj: Conv3d
    public let imgSize: Int, patchSize: Int, numFrames: Int, tPatchSize: Int
    public var gridSize: Int { imgSize / patchSize }
    public var tGridSize: Int { numFrames / tPatchSize }
    /// Spatial tokens per time slice, S = (H/p)·(W/p).
    public var spatialTokens: Int { gridSize * gridSize }
    public var numPatches: Int { tGridSize * spatialTokens }

    public init(imgSize: Int, patchSize: Int, inChans: Int = 3, embedDim: Int, numFrames: Int, tPatchSize: Int) throws {
        guard patchSize > 0, imgSize % patchSize == 0 else {
            throw TorchError("img_size \(imgSize) is not divisible by patch_size \(patchSize)")
        }
        guard tPatchSize > 0, numFrames % tPatchSize == 0 else {
            throw TorchError("num_frames \(numFrames) is not divisible by t_patch_size \(tPatchSize)")
        }
        self.imgSize = imgSize; self.patchSize = patchSize; self.numFrames = numFrames; self.tPatchSize = tPatchSize
        proj = try Conv3d(
            inChans, embedDim, kernel: [tPatchSize, patchSize, patchSize], stride: [tPatchSize, patchSize, patchSize])
    }

    /// The embedding of a model of size `dims`.
    public convenience init(_ dims: ViTDims, inChans: Int, tPatchSize: Int) throws {
        try self.init(
            imgSize: dims.imgSize, patchSize: dims.patchSize, inChans: inChans, embedDim: dims.embedDim,
            numFrames: dims.numFrames, tPatchSize: tPatchSize)
    }

    /// Throws unless x is [N, C, T, H, W] of this embedding's frames and size.
    func check(_ x: Tensor) throws {
        let s = x.shape
        guard s.count == 5, s[2] == numFrames, s[3] == imgSize, s[4] == imgSize else {
            throw TorchError("patch embedding expects [N, 3, \(numFrames), \(imgSize), \(imgSize)], got \(s)")
        }
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try check(x)
        let y = try proj(x)  // [N, D, T', H', W']
        return try y.flatten(start: 3).permute(0, 2, 3, 1)  // [N, T', S, D]
    }

    /// The embeddings of the kept patches only: x [N, 3, T, H, W], ids [N, K] (t-major token indices) → [N, K, D].
    /// A convolution with stride = kernel is one linear map per patch, so this equals gathering `callAsFunction`'s
    /// tokens, at K/L of its FLOPs (MAE pre-training: 10%).
    public func callAsFunction(_ x: Tensor, keeping ids: Tensor) throws -> Tensor {
        try check(x)
        let s = x.shape
        let (n, c, g, p, u) = (s[0], s[1], gridSize, patchSize, tPatchSize)
        let patches = try x.reshape([n, c, tGridSize, u, g, p, g, p]).permute(0, 2, 4, 6, 1, 3, 5, 7)
            .reshape([n, numPatches, c * u * p * p])  // [N, L, C·u·p·p], the kernel's (c, t, h, w) order
        return try linear(
            gatherTokens(patches, ids), weight: proj.weight.reshape([proj.weight.size(0), -1]), bias: proj.bias)
    }
}

/// The three positional layouts of the MAE encoder/decoder and the classifier.
public enum PosEmbedType: String, Sendable {
    /// mae_st default (`sep_pos_embed` true): learned `pos_embed_spatial` [1, S, D] + `pos_embed_temporal` [1, T', D]
    /// (+ `pos_embed_class` [1, 1, D] with a cls token).
    case separable
    /// mae_st `sep_pos_embed` false: one learned `pos_embed` [1, (1 +) L, D] over space-time, row 0 the cls token's.
    case joint
    /// VideoMAE (`sincos_pos_embed` true): a fixed 1-D sinusoid over the L patch tokens, not in the state dict.
    case sinusoid

    /// `sincos_pos_embed` wins over `sep_pos_embed`.
    public init(sepPosEmbed: Bool, sincosPosEmbed: Bool) {
        self = sincosPosEmbed ? .sinusoid : sepPosEmbed ? .separable : .joint
    }
}

/// VideoMAE's 1-D sinusoid table [1, n, dim]: angle(pos, j) = pos / 10000^(2⌊j/2⌋/dim); sin on even j, cos on odd.
public func sinusoidTable(positions n: Int, dim: Int) throws -> Tensor {
    var v = [Float](repeating: 0, count: n * dim)
    for pos in 0 ..< n {
        for j in 0 ..< dim {
            let angle = Double(pos) / pow(10000.0, 2.0 * Double(j / 2) / Double(dim))
            v[pos * dim + j] = Float(j % 2 == 0 ? sin(angle) : cos(angle))
        }
    }
    return try Tensor(v, shape: [1, n, dim])
}

/// Separable positions [1, T'·S, D]: pos[t·S + s] = spatial[s] + temporal[t].
func separablePosEmbed(spatial: Tensor, temporal: Tensor, tGrid: Int, sGrid: Int) throws -> Tensor {
    try spatial.repeat([1, tGrid, 1]) + temporal.repeatInterleave(sGrid, dim: 1)
}

/// x: [N, L, D], ids: [N, K] → [N, K, D]
func gatherTokens(_ x: Tensor, _ ids: Tensor) throws -> Tensor {
    let d = x.size(-1)
    return try x.gather(dim: 1, index: ids.unsqueeze(-1).expand([ids.size(0), ids.size(1), d]))
}
