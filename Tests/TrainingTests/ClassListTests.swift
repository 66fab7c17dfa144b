import Foundation
import Models
import TensorFiles
import Testing
import TestSupport
import Torch
@testable import Training

/// A fine-tuned checkpoint's class list (names → index, fixed by the training data) labels what `embed` reads and
/// names `convert`'s Hugging Face classes; a checkpoint with non-finite weights is refused by `embed` and `evaluate`.
@Suite(.serialized) struct ClassListTests {
    @Test(.timeLimit(.minutes(5))) func checkpointClassListAndFiniteWeights() throws {
        let tmp = try TempDir("class-list")
        let (data, out) = try tinyVideoSet(in: tmp)
        let ft = try runSTMAE(
            [
                "finetune", "--model", "vit_tiny", "--train_dir", data, "--output_dir", out + "/ft",
                "--epochs", "1", "--max_steps", "1",
                "--sincos_pos_embed", "--no_cls_embed"
            ] + tinyFinetuneFlags)  // VideoMAE's layout
        #expect(ft.status == 0, "\(ft.stderr)")
        let ck = out + "/ft/checkpoint-last.json"
        let classes = try #require(try Checkpoint.loadSidecar(ck, as: FinetuneCheckpointState.self).state.classNames)
        #expect(classes.count == 8 && classes == classes.sorted())

        // embed: a folder holding only the last class keeps its index (its own sorted list would say 0)
        let last = classes.last!, subset = out + "/subset"
        try FileManager.default.createDirectory(atPath: subset, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: data + "/" + last, toPath: subset + "/" + last)
        try? FileManager.default.removeItem(atPath: subset + "/" + last + "/broken.mp4")
        try runOK([
            "embed", "--checkpoint", ck, "--data", subset, "--output", out + "/e.safetensors",
            "--sampling_rate", "2"
        ])
        #expect(try EmbeddingModel(checkpoint: ck).classNames == classes)
        let written = try #require(SafeTensors.read(path: out + "/e.safetensors").tensors["labels"])
        let labels = try Tensor(written).toArray(Int64.self)
        #expect(labels == [7, 7], "\(labels)")
        // an unknown class folder is an error naming it
        try FileManager.default.moveItem(atPath: subset + "/" + last, toPath: subset + "/zebra")
        let unknown = try runSTMAE(["embed", "--checkpoint", ck, "--data", subset, "--output", out + "/u.npz"])
        #expect(
            unknown.status != 0 && unknown.stderr.contains("--data \(subset)")
                && unknown.stderr.contains("'zebra'"),
            "\(unknown.stderr)")

        // convert: the Hugging Face id2label is the checkpoint's class list
        try runOK(["convert", ck, out + "/hf"])
        let json = try Data(contentsOf: URL(fileURLWithPath: out + "/hf/config.json"))
        let config = try JSONSerialization.jsonObject(with: json) as? [String: Any]
        let id2label = config?["id2label"] as? [String: String] ?? [:]
        #expect((0 ..< 8).map { id2label["\($0)"] ?? "" } == classes, "\(id2label)")

        // one NaN in the weights: embed and evaluate refuse the checkpoint, naming the tensor
        let (s, dir) = try Checkpoint.loadSidecar(ck, as: FinetuneCheckpointState.self)
        let loaded = try TensorFile.loadOrdered(dir + "/" + s.weights)
        var tensors = loaded.tensors
        let i = try #require(tensors.firstIndex { $0.0 == "blocks.1.mlp.fc1.weight" })
        tensors[i].1 = try tensors[i].1 * Double.nan
        try TensorFile.save(tensors, metadata: loaded.metadata, to: dir + "/" + s.weights)
        let nanEmbed = try runSTMAE(["embed", "--checkpoint", ck, "--data", data, "--output", out + "/n.npz"])
        let refusal = "'blocks.1.mlp.fc1.weight' holds non-finite values"
        #expect(nanEmbed.status != 0 && nanEmbed.stderr.contains(refusal), "\(nanEmbed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out + "/n.npz"))
        let nanEval = try runSTMAE(["evaluate", "--resume", ck, "--val_dir", data, "--output_dir", out + "/eval"])
        #expect(nanEval.status != 0 && nanEval.stderr.contains(refusal), "\(nanEval.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out + "/eval/eval.json"))
    }

    @Test func requireFiniteNamesTheFirstBadTensor() throws {
        let ok = try Tensor([1, 2, 3] as [Float], shape: [3])
        try requireFinite([("a", ok), ("i", Tensor([Int64(1)], shape: [1]))], source: "x.pth")
        let inf = try Tensor([1, Float.infinity] as [Float], shape: [2]), nan = try Tensor([Float.nan], shape: [1])
        #expect { try requireFinite([("a", ok), ("b", inf), ("c", nan)], source: "x.pth") } throws: {
            "\($0)".contains("x.pth: tensor 'b' holds non-finite values")
        }
        #expect { try requireFinite([("c", nan.to(.bfloat16))], source: "y") } throws: { "\($0)".contains("'c'") }
    }
}
