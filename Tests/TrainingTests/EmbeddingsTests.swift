import Datasets
import Foundation
import Media
import Models
import TensorFiles
import Testing
import TestSupport
import Torch
@testable import Training

/// A tiny MAE (width 64, `depth` blocks, 1 head, 4 frames of 32², patch 8) drawn from `seed`, written to `path` as a
/// torch checkpoint that records its head count.
func writeTinyMAE(to path: String, seed: UInt64, depth: Int = 2) throws -> MaskedAutoencoderViT {
    var mae = try MAEConfig.named("mae_vit_tiny")
    (mae.embedDim, mae.depth, mae.numHeads, mae.imgSize, mae.patchSize, mae.numFrames, mae.predTDim) = (
        64, depth, 1, 32, 8, 4, 4
    )
    let encoder = try MaskedAutoencoderViT(mae, generator: Generator(seed: seed))
    try Weights.write(encoder.stateDict(), to: path, format: .torch, settings: ModelSettings(numHeads: 1))
    return encoder
}

/// `stmae embed`'s library side: embeddings in list order, equal to the MAE encoder's mean-pooled output on the
/// evaluation clip, unreadable videos skipped, .npy / .safetensors outputs with the paths.
struct EmbeddingsTests {
    @Test func embeddingsFollowTheListAndMatchTheEncoder() throws {
        let tmp = try TempDir("embed"), dir = tmp.path
        try SyntheticVideos.generate(root: dir + "/videos", trainPerClass: 1, valPerClass: 0, frames: 12, size: 32)
        var samples = try VideoList.scan(dirs: [dir + "/videos/train"])
        #expect(samples.count == 8)
        try Data("not a video".utf8).write(to: URL(fileURLWithPath: dir + "/broken.mp4"))
        samples.insert(VideoSample(path: dir + "/broken.mp4", label: 0), at: 3)

        let encoder = try writeTinyMAE(to: dir + "/mae.pth", seed: 2)
        // 64 × 2 is no standard size: without recorded heads the checkpoint needs --num_heads.
        try Weights.write(encoder.stateDict(), to: dir + "/bare.pth", format: .torch)
        #expect { try EmbeddingModel(checkpoint: dir + "/bare.pth") } throws: {
            "\($0)".contains(dir + "/bare.pth") && "\($0)".contains("--num_heads")
        }

        let m = try EmbeddingModel(checkpoint: dir + "/mae.pth")
        #expect(m.finalNorm != nil && m.dim == 64 && m.model.config.numFrames == 4 && m.model.config.imgSize == 32)
        let clip = ClipConfig(numFrames: 4, samplingRate: 2, targetFps: 10, imgSize: 32, train: false)
        let loader = try VideoLoader(
            samples: samples, config: clip, batchSize: 3, shuffle: false, numWorkers: 2, dropLast: false)
        let r = try Embeddings.extract(m, loader: loader)
        let good = samples.filter { !$0.path.hasSuffix("broken.mp4") }
        #expect(r.paths == good.map(\.path) && r.labels == good.map(\.label))
        #expect(r.skipped == [dir + "/broken.mp4"])
        #expect(r.embeddings.shape == [8, 64])

        // Each row = the MAE encoder (all tokens kept, after `norm`, cls removed) averaged over tokens, on that clip.
        let pipeline = try ClipPipeline(config: clip)
        let l = encoder.tGrid * encoder.sGrid
        let ids = try Tensor.arange(0, Double(l), dtype: .int64).unsqueeze(0)  // every token visible
        for (i, s) in good.enumerated() {
            let x = try Tensor(pipeline.load(path: s.path), shape: [1, 3, 4, 32, 32])
            let latent = try encoder.forwardEncoder(x, idsKeep: ids)
            let ref = try latent.mean(dims: [1]).squeeze(0)
            let row = try r.embeddings.select(dim: 0, index: i)
            let d = try (row - ref).abs().amax(dims: [0]).item() / max(try ref.abs().amax(dims: [0]).item(), 1e-6)
            #expect(d < 1e-4, "row \(i): \(d)")
        }

        try Embeddings.write(r.embeddings, paths: r.paths, labels: r.labels, to: dir + "/e.npy")
        let npy = try Npy.read(path: dir + "/e.npy")
        #expect(npy.shape == [8, 64] && npy.dtype == .float32)
        let listed = try String(contentsOfFile: dir + "/e.paths.txt", encoding: .utf8).split(separator: "\n").map(
            String.init)
        #expect(listed == r.paths)
        // .npz as numpy.load reads it (optimized-stmae's embed.py output).
        try Embeddings.write(r.embeddings, paths: r.paths, labels: r.labels, to: dir + "/e.npz")
        let said = try runPython([
            "-c",
            "import numpy as np, sys; d = np.load(sys.argv[1]); e = d['embeddings']; "
                + "print(e.shape, e.dtype, d['labels'].tolist(), float(np.abs(e - np.load(sys.argv[2])).max()))",
            dir + "/e.npz", dir + "/e.npy"
        ])
        #expect(said.trimmingCharacters(in: .whitespacesAndNewlines) == "(8, 64) float32 \(r.labels) 0.0", "\(said)")
        try Embeddings.write(r.embeddings, paths: r.paths, labels: r.labels, to: dir + "/e.safetensors")
        let st = try SafeTensors.read(path: dir + "/e.safetensors")
        #expect(st.tensors["embeddings"]?.shape == [8, 64] && st.tensors["labels"]?.shape == [8])
        let paths = try JSONSerialization.jsonObject(with: Data(st.metadata["paths"]!.utf8)) as? [String]
        #expect(paths == r.paths)

        // cls pooling: token 0 after `norm` — a different vector of the same size.
        let cls = try EmbeddingModel(checkpoint: dir + "/mae.pth", pool: .cls, numHeads: 1)
        let x0 = try Tensor(pipeline.load(path: good[0].path), shape: [1, 3, 4, 32, 32])
        let c0 = try cls(x0)
        #expect(c0.shape == [1, 64])
        #expect(try (c0.squeeze(0) - r.embeddings.select(dim: 0, index: 0)).abs().amax(dims: [0]).item() > 1e-3)
    }

    /// Classifier checkpoints: with `fc_norm` the head's input; with only `norm` (mae_st: mean → norm;
    /// optimized-stmae: norm → cls token) as `pool` says.
    @Test func classifierCheckpointsEmbedTheHeadInput() throws {
        let tmp = try TempDir("embed-cls"), dir = tmp.path
        var c = ViTConfig()
        (c.numFrames, c.imgSize, c.patchSize, c.numClasses, c.embedDim, c.depth, c.numHeads, c.dropout) = (
            4, 16, 8, 3, 64, 1, 1, 0
        )
        let x = try Tensor.randn([2, 3, 4, 16, 16], generator: Generator(seed: 1))
        let gp = try VisionTransformer(c, generator: Generator(seed: 2))
        gp.eval()
        try Weights.write(gp.stateDict(), to: dir + "/gp.pth", format: .torch, settings: ModelSettings(numHeads: 1))
        let maeSt = try gp.stateDict().map { ($0.0.hasPrefix("fc_norm.") ? String($0.0.dropFirst(3)) : $0.0, $0.1) }
        try Weights.write(maeSt, to: dir + "/maest.pth", format: .torch, settings: ModelSettings(numHeads: 1))
        c.globalPool = false
        let cls = try VisionTransformer(c, generator: Generator(seed: 3))
        cls.eval()
        try Weights.write(cls.stateDict(), to: dir + "/cls.pth", format: .torch, settings: ModelSettings(numHeads: 1))
        let want = try gp.forwardFeatures(x)
        for (file, pool, ref) in [
            ("gp.pth", EmbeddingModel.Pool.mean, want), ("maest.pth", .mean, want),
            ("cls.pth", .cls, try cls.forwardFeatures(x))
        ] {
            let m = try EmbeddingModel(checkpoint: dir + "/" + file, pool: pool)
            #expect(m.finalNorm == nil)
            #expect(try (m(x) - ref).abs().amax(dims: [0, 1]).item() < 1e-6, "\(file)")
        }
    }

    /// `stmae embed` on a folder with a corrupt video: rows for the readable ones, in list order, equal to the library.
    @Test(.timeLimit(.minutes(5))) func embedCommandWritesTheLibraryResult() throws {
        let tmp = try TempDir("embed-cli"), (data, out) = try tinyVideoSet(in: tmp)
        _ = try writeTinyMAE(to: out + "/mae.pth", seed: 4, depth: 1)
        let run = try runOK([
            "embed", "--checkpoint", out + "/mae.pth", "--data", data, "--output", out + "/e.safetensors",
            "--sampling_rate", "2", "--target_fps", "10", "--batch_size", "5", "--num_workers", "2"
        ])
        #expect(run.stderr.contains("broken.mp4") && run.stderr.contains("16 videos × 64"), "\(run.stderr)")
        let st = try SafeTensors.read(path: out + "/e.safetensors")
        let paths = try JSONSerialization.jsonObject(with: Data(st.metadata["paths"]!.utf8)) as? [String]
        let samples = try VideoList.samples(from: data).filter { !$0.path.hasSuffix("broken.mp4") }
        #expect(paths == samples.map(\.path))
        let m = try EmbeddingModel(checkpoint: out + "/mae.pth")
        let clip = ClipConfig(numFrames: 4, samplingRate: 2, targetFps: 10, imgSize: 32, train: false)
        let loader = try VideoLoader(
            samples: samples, config: clip, batchSize: 4, shuffle: false, numWorkers: 0, dropLast: false)
        let lib = try Embeddings.extract(m, loader: loader).embeddings
        let cli = try Tensor(st.tensors["embeddings"]!)
        #expect(cli.shape == [16, 64])  // 8 classes × 2; the corrupt file skipped
        #expect(try (cli - lib).abs().amax(dims: [0, 1]).item() < 1e-5)
        let again = try runSTMAE([
            "embed", "--checkpoint", out + "/mae.pth", "--data", data, "--output", out + "/e.safetensors"
        ])
        #expect(again.status != 0 && again.stderr.contains("--force"))
    }
}
