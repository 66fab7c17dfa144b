import Foundation
import Testing
import TestSupport
import Datasets
import TensorFiles
@testable import Training

/// Issue 24's hostile corpus, end to end through the CLI: odd and broken videos, a FIFO and a folder named .mp4, a CRLF
/// list with missing files, hostile checkpoints. Every run ends by itself with an exit code (never a signal, never a
/// hang), skips what it cannot read with the reason, and trains on the rest.
@Suite(.serialized) struct HostileCorpusTests {
    /// tinyVideoSet (8 classes × 2 good clips + a text file named .mp4) plus: truncated, empty and byte-damaged
    /// copies, a FIFO, a directory named `.mp4`, a `.mov` copy, an upper-case extension.
    static func corpus(in tmp: TempDir) throws -> (videos: String, broken: [String]) {
        let videos = try tinyVideoSet(in: tmp).data, dir = videos + "/circle_left"
        let fm = FileManager.default
        let good = try fm.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".mp4") && $0 != "broken.mp4" }
            .sorted()[0]
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + good))
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: dir + "/truncated.mp4"))
        try Data().write(to: URL(fileURLWithPath: dir + "/empty.mp4"))
        var damaged = [UInt8](bytes)
        for i in stride(from: damaged.count / 4, to: damaged.count * 3 / 4, by: 3) { damaged[i] ^= 0x5A }
        try Data(damaged).write(to: URL(fileURLWithPath: dir + "/damaged.mp4"))
        try bytes.write(to: URL(fileURLWithPath: dir + "/copy.mov"))
        try bytes.write(to: URL(fileURLWithPath: dir + "/UPPER.MP4"))
        #expect(mkfifo(dir + "/pipe.mp4", 0o600) == 0)
        try fm.createDirectory(atPath: dir + "/folder.mp4", withIntermediateDirectories: true)
        return (videos, ["broken.mp4", "truncated.mp4", "empty.mp4", "pipe.mp4"].map { dir + "/" + $0 })
    }

    @Test(.timeLimit(.minutes(3))) func corpusTrainsEmbedsAndRefusesHostileCheckpoints() throws {
        let tmp = try TempDir("hostile")
        let (videos, broken) = try Self.corpus(in: tmp)
        let out = tmp.sub("out")

        // pre-training: the unreadable files are skipped with reasons, the rest (incl. .mov, .MP4) trains
        let pre = try runOK(
            [
                "pretrain", "--data_dirs", videos, "--output_dir", out + "/pre", "--epochs", "1",
                "--max_steps", "3"
            ] + tinyCLIFlags, timeout: 120)
        for path in broken { #expect(pre.stderr.contains("skipping unreadable video \(path)"), "\(path)") }
        #expect(pre.stderr.contains("FIFO"))
        let list = try String(contentsOfFile: out + "/pre/train.csv", encoding: .utf8)
        #expect(list.contains("copy.mov") && list.contains("UPPER.MP4") && !list.contains("folder.mp4"))

        // fine-tuning from a CRLF list naming a missing file and the broken ones
        let csv = out + "/list.csv"
        let rows = try VideoList.readCSV(path: out + "/pre/train.csv").prefix(8).map { "\($0.path), \($0.label % 2)" }
        try ((rows + ["/no/such/video.mp4, 1"] + broken.map { "\($0), 0" }).joined(separator: "\r\n") + "\r\n")
            .write(toFile: csv, atomically: true, encoding: .utf8)
        let ft = try runOK(
            [
                "finetune", "--train_dir", csv, "--val_dir", csv, "--output_dir", out + "/ft", "--epochs", "1",
                "--max_steps", "2", "--batch_size", "2", "--img_size", "32", "--patch_size", "8",
                "--num_frames", "4", "--threads", "1"
            ], timeout: 120)
        #expect(ft.stderr.contains("skipping unreadable video /no/such/video.mp4"))

        // embeddings over the whole corpus: broken files listed as skipped
        let emb = try runOK(
            [
                "embed", "--checkpoint", out + "/pre/checkpoint-last.json", "--data", videos,
                "--output", out + "/e.npy"
            ], timeout: 120)
        #expect(emb.stderr.contains("skipped"), "\(emb.stderr)")

        // hostile checkpoints: an error naming the file, no signal
        let one = TensorStorage(dtype: .float32, bytes: [0, 0, 128, 63])
        var model = PickleDict(isOrderedDict: true)
        model["pos_embed"] = .tensor(TensorRef(storage: one, shape: [100_000, 100_000], strides: [0, 0]))
        try TorchCheckpoint.save(.dict(["model": .dict(model)]), to: out + "/zero_stride.pth")
        try Data("{\"__metadata__\": 7, \"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 99]}}".utf8)
            .write(to: URL(fileURLWithPath: out + "/header.safetensors"))
        let good = try Data(contentsOf: URL(fileURLWithPath: out + "/pre/checkpoint-last.safetensors"))
        try good.prefix(good.count / 2).write(to: URL(fileURLWithPath: out + "/cut.safetensors"))
        for bad in ["zero_stride.pth", "header.safetensors", "cut.safetensors"] {
            let path = out + "/" + bad
            for args in [
                ["convert", path, out + "/x.safetensors"],
                [
                    "embed", "--checkpoint", path, "--data", videos,
                    "--output", out + "/x.npy"
                ],
                ["finetune", "--finetune", path, "--max_steps", "1", "--output_dir", out + "/x"]
            ] {
                let r = try runSTMAE(args, timeout: 60)
                #expect(r.status != 0 && r.status < 128, "\(args[0]) \(bad): status \(r.status)")
                #expect(r.stderr.contains(bad), "\(args[0]) \(bad): \(r.stderr.suffix(300))")
            }
        }
    }
}
