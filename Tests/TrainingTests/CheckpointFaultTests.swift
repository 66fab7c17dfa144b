import Foundation
import NN
import Testing
import TestSupport
import TensorFiles
import Torch
@testable import Training

/// Runs `executable args…` with extra environment; returns the exit status (128 + signal when killed by one) and the
/// output. Killed (SIGKILL) after `timeout` seconds.
func runWithEnv(
    _ executable: String, _ args: [String], env: [String: String] = [:], timeout: Double = 240,
    during: ((Process) -> Void)? = nil
) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    p.environment = ProcessInfo.processInfo.environment.merging(env) { _, new in new }
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("stmae-fault-\(UUID().uuidString).log")
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    let handle = try FileHandle(forWritingTo: log)
    p.standardError = handle
    p.standardOutput = handle
    try p.run()
    during?(p)
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(20_000) }
    if p.isRunning { kill(p.processIdentifier, SIGKILL) }
    p.waitUntilExit()
    try handle.close()
    defer { try? FileManager.default.removeItem(at: log) }
    let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
    return (status, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
}

/// The bytes of checkpoint `name`'s three parts in `dir`.
func checkpointBytes(_ dir: String, _ name: String = "checkpoint-last") -> [Data?] {
    [".json", ".safetensors", ".optim.safetensors"].map { FileManager.default.contents(atPath: dir + "/" + name + $0) }
}

func leftoverTemps(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter {
        $0.contains(".tmp-") || $0.hasSuffix(".commit")
    }
}

/// `stmae pretrain` of the tiny video set (`tinyCLIFlags`) into a fresh folder `out`.
struct TinyPretrain {
    let tmp: TempDir, out: String, exe: String, data: String

    init(_ name: String) throws {
        tmp = try TempDir(name)
        (data, out) = try tinyVideoSet(in: tmp)
        exe = try productPath("stmae")
    }

    /// The arguments for `steps` steps (`--max_steps`), then `extra`.
    func args(steps: Int, _ extra: [String] = []) -> [String] {
        ["pretrain", "--data_dirs", data, "--output_dir", out, "--epochs", "500", "--max_steps", "\(steps)"]
            + tinyCLIFlags + extra
    }
}

/// Checkpoints are one unit: a save killed or failing part-way leaves the previous checkpoint as it was, a mixed set of
/// parts is refused with a message naming them, and the temporary files of killed saves are removed by the next run.
@Suite(.serialized) struct CheckpointFaultTests {
    /// A tiny model and optimizer after one step, saved as checkpoint `name` at `step`.
    func save(_ dir: String, _ name: String, step: Int) throws -> (Linear, AdamW) {
        let m = try Linear(4, 3)
        let opt = AdamW(paramGroups(m.namedParameters(), weightDecay: 0.05), lr: 1e-3)
        let loss = try m(Tensor.randn([2, 4])).square().mean()
        try loss.backward()
        try opt.step()
        var s = FinetuneCheckpointState(
            config: FinetuneConfig(), numClasses: 3, classNames: nil, state: FinetuneState())
        s.state.step = step
        try Checkpoint.save(dir: dir, name: name, model: m, optimizer: opt, state: s)
        return (m, opt)
    }

    /// Every part records the same save id and step; the pair loads.
    @Test func partsRecordOneSave() throws {
        let tmp = try TempDir("ck-ids"), dir = tmp.path
        _ = try save(dir, "checkpoint-last", step: 7)
        let w = try SafeTensors.readHeader(path: dir + "/checkpoint-last.safetensors").metadata
        let o = try SafeTensors.readHeader(path: dir + "/checkpoint-last.optim.safetensors").metadata
        let json = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: dir + "/checkpoint-last.json")))
        let save = (json as? [String: Any])?["save"] as? [String: Any]
        #expect(
            w["stmae_save_id"] != nil && w["stmae_save_id"] == o["stmae_save_id"]
                && w["stmae_save_id"] == save?["id"] as? String)
        #expect(w["stmae_step"] == "7" && o["stmae_step"] == "7" && save?["step"] as? Int == 7 && w["format"] == "pt")
        #expect(
            try Checkpoint.loadSidecar(dir + "/checkpoint-last.json", as: FinetuneCheckpointState.self).state.state.step
                == 7)
        #expect(leftoverTemps(dir).isEmpty)
    }

    /// Weights of one save beside the settings of another (what a kill between renames used to leave) are refused.
    @Test func mixedCheckpointIsRefused() throws {
        let tmp = try TempDir("ck-mixed"), dir = tmp.path
        _ = try save(dir, "a", step: 3)
        _ = try save(dir, "b", step: 4)
        try FileManager.default.removeItem(atPath: dir + "/b.safetensors")
        try FileManager.default.copyItem(atPath: dir + "/a.safetensors", toPath: dir + "/b.safetensors")
        #expect { try Checkpoint.loadSidecar(dir + "/b.json", as: FinetuneCheckpointState.self) } throws: {
            let m = "\($0)"
            return m.contains("mixed") && m.contains(dir + "/b.safetensors") && m.contains("step 3")
                && m.contains("step 4")
        }
        // settings written before save ids beside new weights: mixed too
        var legacy =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/a.json")))
            as! [String: Any]
        legacy["save"] = nil
        try JSONSerialization.data(withJSONObject: legacy).write(to: URL(fileURLWithPath: dir + "/a.json"))
        #expect { try Checkpoint.loadSidecar(dir + "/a.json", as: FinetuneCheckpointState.self) } throws: {
            "\($0)".contains("mixed") && "\($0)".contains("written before save ids")
        }
    }

    /// A checkpoint in the format from before save ids (no ids anywhere) loads, and its tensors are read bit for bit.
    @Test func checkpointWithoutSaveIDsLoads() throws {
        let tmp = try TempDir("ck-legacy"), dir = tmp.path
        let (m, opt) = try save(dir, "checkpoint-last", step: 5)
        try TensorFile.save(m.stateDict(), metadata: ["format": "pt"], to: dir + "/checkpoint-last.safetensors")
        try TensorFile.save(opt.stateDict(), to: dir + "/checkpoint-last.optim.safetensors")
        var json =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: dir + "/checkpoint-last.json"))) as! [String: Any]
        json["save"] = nil
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: dir + "/checkpoint-last.json"))
        let (s, d) = try Checkpoint.loadSidecar(dir + "/checkpoint-last.json", as: FinetuneCheckpointState.self)
        #expect(s.state.step == 5)
        let loaded = try TensorFile.load(d + "/" + s.weights)
        for (k, v) in try m.stateDict() { #expect(try loaded[k]!.toArray(Float.self) == v.toArray(Float.self)) }
    }

    /// Temporary files of a dead writer are removed; a live writer's and other files are left alone.
    @Test func orphanedTempFilesAreRemoved() throws {
        let tmp = try TempDir("ck-orphans"), dir = tmp.path
        let dead = ".checkpoint-last.safetensors.tmp-99999999-0123abcd", own = ".x.json.tmp-\(getpid())-42"
        for f in [dead, own, ".hidden", "notes.tmp-1-2", ".checkpoint-last.json.tmp-1-"] {
            _ = FileManager.default.createFile(atPath: dir + "/" + f, contents: Data("x".utf8))
        }
        let log = CheckpointCommit.recover(dir: dir)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
        #expect(!left.contains(dead) && log.contains { $0.contains(dead) })
        #expect(left.isSuperset(of: [own, ".hidden", "notes.tmp-1-2", ".checkpoint-last.json.tmp-1-"]))
    }

    /// A multi-file output folder (convert's Hugging Face directory) is replaced whole or not at all.
    @Test func folderIsWrittenInOnePiece() throws {
        let tmp = try TempDir("ck-folder"), root = tmp.path, out = root + "/hf"
        try writeFolderAtomically(out) { try Data("1".utf8).write(to: URL(fileURLWithPath: $0 + "/config.json")) }
        #expect {
            try writeFolderAtomically(out) { d in
                try Data("2".utf8).write(to: URL(fileURLWithPath: d + "/config.json"))
                throw TorchError("disk full")
            }
        } throws: { "\($0)".contains("disk full") }
        #expect(try String(contentsOfFile: out + "/config.json", encoding: .utf8) == "1")
        try writeFolderAtomically(out) { try Data("3".utf8).write(to: URL(fileURLWithPath: $0 + "/model.safetensors")) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["model.safetensors"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root) == ["hf"])
    }

    /// A save killed (SIGKILL) after the weights were written keeps the previous checkpoint byte for byte; the next
    /// run (its first read of the folder) removes the killed save's temporary files and resumes from that checkpoint.
    @Test(.timeLimit(.minutes(5))) func killMidSaveKeepsThePreviousCheckpoint() throws {
        let tiny = try TinyPretrain("ck-kill"), (exe, out) = (tiny.exe, tiny.out)
        let first = try runWithEnv(exe, tiny.args(steps: 2))
        #expect(first.status == 0, "\(first.output)")
        let before = checkpointBytes(out)
        let resume = ["--resume", out + "/checkpoint-last.json"]
        let killed = try runWithEnv(
            exe, tiny.args(steps: 1, resume), env: ["STMAE_TEST_KILL_IN_SAVE": "weights"])
        #expect(killed.status == 128 + SIGKILL, "\(killed.output)")
        #expect(checkpointBytes(out) == before)
        #expect(!leftoverTemps(out).isEmpty, "the killed save left its staged weights")
        let next = try runWithEnv(exe, tiny.args(steps: 1, resume))
        #expect(next.status == 0 && next.output.contains("left by an interrupted save"), "\(next.output)")
        #expect(next.output.contains("resumed from") && next.output.contains("step 2"))
        #expect(try Checkpoint.load(out + "/checkpoint-last.json").state.step == 3)
        #expect(leftoverTemps(out).isEmpty, "\(leftoverTemps(out))")
    }

    /// A save killed after its commit point (one part already renamed) is completed by the next reader: the
    /// checkpoint is the new one, whole.
    @Test(.timeLimit(.minutes(5))) func killAfterCommitIsCompletedOnLoad() throws {
        let tiny = try TinyPretrain("ck-commit"), (exe, out) = (tiny.exe, tiny.out)
        #expect(try runWithEnv(exe, tiny.args(steps: 2)).status == 0)
        let killed = try runWithEnv(
            exe, tiny.args(steps: 1, ["--resume", out + "/checkpoint-last.json"]),
            env: ["STMAE_TEST_KILL_IN_SAVE": "rename"])
        #expect(killed.status == 128 + SIGKILL, "\(killed.output)")
        #expect(leftoverTemps(out).contains(".checkpoint-last.commit"))
        let (s, _) = try Checkpoint.load(out + "/checkpoint-last.json")
        #expect(s.step == 3)
        #expect(leftoverTemps(out).isEmpty, "\(leftoverTemps(out))")
    }

    /// A full disk (here: a file-size limit, `ulimit -f`, between the weights' and the optimizer state's size) fails
    /// the save with the OS error and leaves the previous checkpoint byte for byte, with no temporary files.
    @Test(.timeLimit(.minutes(5))) func failedWriteKeepsThePreviousCheckpoint() throws {
        let tiny = try TinyPretrain("ck-full"), (exe, out) = (tiny.exe, tiny.out)
        #expect(try runWithEnv(exe, tiny.args(steps: 2)).status == 0)
        let before = checkpointBytes(out)
        let (w, o) = (before[1]?.count ?? 0, before[2]?.count ?? 0)
        try #require(o > w + 8192, "optimizer state \(o) B vs weights \(w) B")
        let kb = (w + o) / 2 / 1024  // bash's ulimit -f counts 1024-byte blocks
        let args =
            ["-c", "trap '' XFSZ; ulimit -f \(kb); exec \"$0\" \"$@\"", exe]
            + tiny.args(steps: 1, ["--resume", out + "/checkpoint-last.json"])
        let failed = try runWithEnv("/bin/bash", args)
        #expect(failed.status != 0 && failed.output.contains("File too large"), "\(failed.output)")
        #expect(checkpointBytes(out) == before)
        #expect(leftoverTemps(out).isEmpty, "\(leftoverTemps(out))")
    }
}
