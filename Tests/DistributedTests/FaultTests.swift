import Foundation
import Testing

/// The launcher's children (from /proc), waiting up to 10 s for `count` of them.
func launchedChildren(_ launcher: Child, count: Int) -> [Int32] {
    let pid = launcher.process.processIdentifier
    var kids: [Int32] = []
    for _ in 0 ..< 200 where kids.count < count {
        usleep(50_000)
        let list = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        kids = list.split(separator: " ").compactMap { Int32($0) }
    }
    return kids
}

/// `stmae launch` of two pre-training ranks writing to `outputDir`, and the ranks' pids.
func launchTwoRanks(maxSteps: Int, outputDir: String) throws -> (Child, [Int32]) {
    let k = try Child([
        "launch", "--nproc_per_node", "2", "--master_port", "\(freePort())", "--", "pretrain",
        "--max_steps", "\(maxSteps)", "--output_dir", outputDir, "--num_workers", "1", "--dist_timeout", "120"
    ])
    let kids = launchedChildren(k, count: 2)
    try #require(kids.count == 2, "launcher started \(kids)")
    return (k, kids)
}

/// Whether `pid` is still running (a zombie waiting to be reaped is not).
func isRunning(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
    return state != "Z" && state != "X"
}

/// Faults of data-parallel runs: a stopped rank is named long before --dist_timeout, ranks die with their launcher,
/// and a second SIGINT ends the job at once.
@Suite(.serialized) struct FaultTests {
    /// A rank stopped by SIGSTOP (a frozen host) is named by the other within the heartbeat timeout, not after the
    /// 10-minute --dist_timeout given here.
    @Test(.timeLimit(.minutes(2)), arguments: [1, 0]) func stoppedRankIsNamed(stopped: Int) throws {
        let port = freePort(), other = 1 - stopped
        let args = ["die", "--hang", "--die-rank", "\(stopped)", "--after", "2", "--dist_timeout", "600"]
        let env = ["STMAE_HEARTBEAT_TIMEOUT": "3"]
        let kids = try (0 ..< 2).map {
            try Child(args, program: "stmae-dist-worker", env: rankEnv($0, 2, port: port).merging(env) { a, _ in a })
        }
        defer { kill(kids[stopped].process.processIdentifier, SIGKILL) }
        let status = kids[other].wait(timeout: 40)
        #expect(status != nil && status != 0, "survivor status \(String(describing: status))")
        #expect(kids[other].seconds < 20, "took \(kids[other].seconds) s")
        #expect(kids[other].stderr.contains("rank \(stopped) has made no progress for"), "\(kids[other].stderr)")
    }

    /// `kill -9` of `stmae launch` takes its ranks down (parent-death signal) instead of leaving them training.
    @Test(.timeLimit(.minutes(2))) func ranksDieWithTheLauncher() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stmae-orphans-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (k, kids) = try launchTwoRanks(maxSteps: 100000, outputDir: dir)
        defer { for pid in kids { kill(pid, SIGKILL) } }
        usleep(1_500_000)
        kill(k.process.processIdentifier, SIGKILL)
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline && kids.contains(where: isRunning) { usleep(50_000) }
        for pid in kids { #expect(!isRunning(pid), "rank \(pid) outlived its launcher") }
    }

    /// A second SIGINT ends `stmae launch` and its ranks at once, even with rank 0 blocked in a system call (opening
    /// a FIFO where its log goes) where the first one only asked for a checkpoint.
    @Test(.timeLimit(.minutes(2))) func secondSIGINTEndsTheJobAtOnce() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stmae-sigint2-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(mkfifo(dir + "/log.jsonl", 0o644) == 0)
        let (k, kids) = try launchTwoRanks(maxSteps: 2, outputDir: dir)
        defer { for pid in kids { kill(pid, SIGKILL) } }
        for _ in 0 ..< 600 where !k.stderr.contains("data:") { usleep(50_000) }  // rank 0 then opens log.jsonl
        usleep(1_000_000)
        kill(k.process.processIdentifier, SIGINT)
        usleep(500_000)
        #expect(k.process.isRunning, "the first SIGINT only asks for a checkpoint")
        kill(k.process.processIdentifier, SIGINT)
        // Polled, not `wait`: Foundation may not see the launcher end while ranks it left behind still run.
        let deadline = Date().addingTimeInterval(10)
        while k.process.isRunning && Date() < deadline { usleep(20_000) }
        #expect(!k.process.isRunning, "the second SIGINT did not end the launcher")
        if !k.process.isRunning { #expect(k.process.terminationStatus == 130, "\(k.stderr)") }
        usleep(500_000)
        for pid in kids { #expect(!isRunning(pid), "rank \(pid) still running") }
    }
}
