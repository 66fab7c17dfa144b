#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import TensorFiles
import Torch

/// How a checkpoint's parts (`<name>.safetensors`, `<name>.optim.safetensors`, `<name>.json`) become one unit:
///
/// 1. every part is written and fsynced under a temporary name `.<part>.tmp-<pid>-<saveID>` in the same folder, each
///    carrying the save's id and step (safetensors `__metadata__` `stmae_save_id` / `stmae_step`, JSON `"save"`);
/// 2. a commit record `.<name>.commit` naming the renames is published by one atomic rename — the commit point;
/// 3. the temporary parts are renamed onto their names, then the record is removed.
///
/// A save killed before 2 leaves the previous checkpoint untouched (its temporary files are removed by the next run);
/// one killed after 2 is completed by the next reader or writer (`recover`). Loading checks that the parts carry the
/// same save id and step and refuses a mixed set, naming the files.
enum CheckpointCommit {
    struct Record: Codable {
        var saveID: String
        var pid: Int32
        /// [temporary name, final name], relative to the folder.
        var renames: [[String]]
    }

    /// A fresh id for one save (16 hex digits).
    static func newSaveID() -> String { String(format: "%016llx", UInt64.random(in: 1 ... UInt64.max)) }

    /// The temporary name a part `final` (a file name) is staged under.
    static func tempName(_ final: String, saveID: String) -> String { ".\(final).tmp-\(getpid())-\(saveID)" }

    static func recordName(_ name: String) -> String { ".\(name).commit" }

    /// Test hook: `STMAE_TEST_KILL_IN_SAVE=<stage>` kills this process (SIGKILL) at that stage of a save
    /// (`weights`, `optimizer`, `settings`: after that part is staged; `commit`: after the record; `rename`: after
    /// the first rename) — a `kill -9` at a chosen point.
    static func stage(_ name: String) {
        if ProcessInfo.processInfo.environment["STMAE_TEST_KILL_IN_SAVE"] == name { kill(getpid(), SIGKILL) }
    }

    /// Publishes the staged parts (`[temp, final]` file names in `dir`) as one unit.
    static func commit(dir: String, name: String, saveID: String, renames: [[String]]) throws {
        fsyncDir(dir)
        let record = Record(saveID: saveID, pid: getpid(), renames: renames)
        try writeAtomically([UInt8](JSONEncoder().encode(record)), to: dir + "/" + recordName(name))
        fsyncDir(dir)
        stage("commit")
        for (i, r) in renames.enumerated() {
            guard rename(dir + "/" + r[0], dir + "/" + r[1]) == 0 else {
                throw TorchError(
                    "checkpoint \(dir)/\(name): cannot rename \(r[0]) to \(r[1]) (\(String(cString: strerror(errno))))")
            }
            if i == 0 { stage("rename") }
        }
        fsyncDir(dir)
        unlink(dir + "/" + recordName(name))
    }

    /// Completes saves in `dir` whose writer died after its commit point (only `name`'s, if given), then removes
    /// the temporary files of stmae writers that are no longer running. Returns what it did, for the log.
    @discardableResult
    static func recover(dir: String, name: String? = nil) -> [String] {
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        var done: [String] = []
        var pending = Set<String>()  // temporaries a live writer's record still names
        for f in files where f.hasPrefix(".") && f.hasSuffix(".commit") {
            let ckpt = String(f.dropFirst().dropLast(".commit".count))
            guard let data = FileManager.default.contents(atPath: dir + "/" + f),
                let r = try? JSONDecoder().decode(Record.self, from: data)
            else { continue }
            if (name != nil && ckpt != name) || (r.pid != getpid() && processAlive(r.pid)) {
                pending.formUnion(r.renames.compactMap(\.first))
                continue
            }
            var moved = 0
            for pair in r.renames where pair.count == 2 && FileManager.default.fileExists(atPath: dir + "/" + pair[0]) {
                if rename(dir + "/" + pair[0], dir + "/" + pair[1]) == 0 { moved += 1 }
            }
            fsyncDir(dir)
            if unlink(dir + "/" + f) == 0, moved > 0 {
                done.append(
                    "completed the interrupted save \(r.saveID) of \(dir)/\(ckpt) (\(moved) part(s) moved into place)")
            }
        }
        for f in files where !pending.contains(f) {
            guard let pid = tempOwner(f), pid != getpid(), !processAlive(pid) else { continue }
            if unlink(dir + "/" + f) == 0 { done.append("removed \(dir)/\(f), left by an interrupted save") }
        }
        return done
    }

    /// The writer's pid if `file` is one of stmae's temporary names (`.<file>.tmp-<pid>-<token>`), else nil.
    static func tempOwner(_ file: String) -> Int32? {
        guard file.hasPrefix("."), let r = file.range(of: ".tmp-", options: .backwards) else { return nil }
        let tail = file[r.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
        guard tail.count == 2, let pid = Int32(tail[0]), pid > 0, !tail[1].isEmpty,
            tail[1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) })
        else { return nil }
        return pid
    }

    static func processAlive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 || errno == EPERM }

    /// Makes renames in `dir` durable (best effort: not every file system supports fsync on a folder).
    static func fsyncDir(_ dir: String) {
        let fd = open(dir, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Checks that a checkpoint's parts come from one save: the JSON's `"save"` id and step against each safetensors
    /// part's `stmae_save_id` / `stmae_step`. Checkpoints from before save ids (no id anywhere) pass as they are.
    static func verify(json: String, save: [String: Any]?, parts: [String]) throws {
        let id = save?["id"] as? String
        let step = (save?["step"] as? NSNumber).map { "\($0.intValue)" }
        var lines: [String] = []
        var mixed = false
        for p in parts where FileManager.default.fileExists(atPath: p) {
            let meta: [String: String]
            do { meta = try SafeTensors.readHeader(path: p).metadata } catch {
                throw TorchError("checkpoint \(json): its part \(p) is unreadable (\(error))")
            }
            let (pid, pstep) = (meta["stmae_save_id"], meta["stmae_step"])
            lines.append("\(p): save \(pid ?? "none (written before save ids)")" + (pstep.map { ", step \($0)" } ?? ""))
            if pid != id || (id != nil && pstep != step) { mixed = true }
        }
        guard mixed else { return }
        throw TorchError(
            "checkpoint \(json) is mixed: its parts come from different saves (an interrupted save or "
                + "files copied from different runs), so resuming would replay or skip steps. \(json): save "
                + "\(id ?? "none (written before save ids)")" + (step.map { ", step \($0)" } ?? "") + "; "
                + lines.joined(separator: "; ") + ". Use an earlier complete checkpoint (e.g. checkpoint-NNNNN.json).")
    }
}

/// Writes a multi-file output folder (a Hugging Face directory) as one piece: `body` fills a temporary sibling folder,
/// which then takes `dir`'s place by one rename — a folder already there is first moved aside and removed after, so a
/// crash or a full disk never leaves `dir` holding parts of two writes.
public func writeFolderAtomically(_ dir: String, _ body: (String) throws -> Void) throws {
    let url = URL(fileURLWithPath: dir).standardizedFileURL
    let parent = url.deletingLastPathComponent().path, base = url.lastPathComponent
    let token = CheckpointCommit.newSaveID()
    let staged = parent + "/.\(base).tmp-\(getpid())-\(token)", aside = parent + "/.\(base).old-\(getpid())-\(token)"
    try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
    do {
        try FileManager.default.createDirectory(atPath: staged, withIntermediateDirectories: false)
        try body(staged)
    } catch {
        try? FileManager.default.removeItem(atPath: staged)
        throw error
    }
    let replacing = FileManager.default.fileExists(atPath: url.path)
    if replacing, rename(url.path, aside) != 0 {
        let why = String(cString: strerror(errno))
        try? FileManager.default.removeItem(atPath: staged)
        throw TorchError("\(dir): cannot move the existing folder aside (\(why))")
    }
    guard rename(staged, url.path) == 0 else {
        let why = String(cString: strerror(errno))
        if replacing { rename(aside, url.path) }
        try? FileManager.default.removeItem(atPath: staged)
        throw TorchError("\(dir): cannot move the written folder into place (\(why))")
    }
    CheckpointCommit.fsyncDir(parent)
    if replacing { try? FileManager.default.removeItem(atPath: aside) }
}
