import Foundation
import Testing
import TestSupport

/// The step saved in a checkpoint's JSON (pre-training: `step`; fine-tuning: `state.step`).
func savedStep(_ json: String) -> Int? {
    guard let d = try? Data(contentsOf: URL(fileURLWithPath: json)),
        let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any]
    else { return nil }
    return o["step"] as? Int ?? (o["state"] as? [String: Any])?["step"] as? Int
}

/// Waits (up to `seconds`) until rank 0 has logged `count` steps into `dir` while every rank runs.
func waitForSteps(_ count: Int, in dir: String, _ kids: [Child], seconds: Double = 150) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while loggedSteps(dir).count < count && Date() < deadline && kids.allSatisfy(\.process.isRunning) {
        usleep(50_000)
    }
    return loggedSteps(dir).count >= count
}

/// Signals and stalls in a data-parallel run of the real commands (two ranks, no launcher).
@Suite(.serialized) struct StopAgreementTests {
    /// SIGINT to rank 1 alone: the ranks agree (an all-reduce of the stop flag each step) to stop after the same step,
    /// rank 0 saves it, both exit 130, and `--resume` continues from it. Before: rank 1 left alone, rank 0 failed in
    /// the next collective and nothing was saved.
    @Test(.timeLimit(.minutes(6)), arguments: ["pretrain", "finetune"]) func sigintToOneRankStopsBoth(
        command: String
    ) throws {
        let tmp = try TempDir("stop-\(command)")
        let out = tmp.sub("out")
        let run = (command == "pretrain" ? tinyPretrain : plainFinetune + ["--batch_size", "2"])
        let kids = try stmaeRanks(2, run + ["--max_steps", "100000", "--output_dir", out, "--dist_timeout", "60"])
        defer { for k in kids where k.process.isRunning { kill(k.process.processIdentifier, SIGKILL) } }
        try #require(waitForSteps(2, in: out, kids), "\(kids[0].stderr)\n\(kids[1].stderr)")
        kill(kids[1].process.processIdentifier, SIGINT)
        for k in kids { k.wait(timeout: 60) }
        #expect(kids[0].status == 130, "rank 0: \(String(describing: kids[0].status)) \(kids[0].stderr)")
        #expect(kids[1].status == 130, "rank 1: \(String(describing: kids[1].status)) \(kids[1].stderr)")
        let step = savedStep(out + "/checkpoint-last.json")
        let logged = loggedSteps(out).compactMap { $0["step"] as? Int }
        #expect(step != nil && step == logged.last, "saved \(String(describing: step)), logged \(logged)")
        #expect(kids[0].stderr.contains("(step \(step ?? -1))"), "\(kids[0].stderr)")

        let again = try stmaeRanks(2, [command, "--resume", out + "/checkpoint-last.json", "--max_steps", "1"])
        for k in again { #expect(k.wait(timeout: 150) == 0, "\(k.stderr)") }
        let after = loggedSteps(out).compactMap { $0["step"] as? Int }
        #expect(after.last == (step ?? -2) + 1 && after.count == logged.count + 1, "\(after)")
    }

    /// `--heartbeat_timeout` (a flag, over STMAE_HEARTBEAT_TIMEOUT): a rank stopped by SIGSTOP is named by the other
    /// within seconds, not after the 10-minute --dist_timeout or the environment's 10 minutes.
    @Test(.timeLimit(.minutes(4))) func heartbeatTimeoutFlagNamesAStoppedRank() throws {
        let tmp = try TempDir("hb-flag")
        let out = tmp.sub("out")
        let kids = try stmaeRanks(
            2,
            tinyPretrain + [
                "--max_steps", "100000", "--output_dir", out, "--dist_timeout", "600", "--heartbeat_timeout", "3"
            ],
            env: ["STMAE_HEARTBEAT_TIMEOUT": "600"])
        defer { for k in kids where k.process.isRunning { kill(k.process.processIdentifier, SIGKILL) } }
        try #require(waitForSteps(2, in: out, kids), "\(kids[0].stderr)\n\(kids[1].stderr)")
        kill(kids[1].process.processIdentifier, SIGSTOP)
        let stopped = Date()
        let status = kids[0].wait(timeout: 60)
        let took = Date().timeIntervalSince(stopped)
        #expect(status != nil && status != 0, "rank 0 status \(String(describing: status))")
        #expect(took < 20, "took \(took) s")
        #expect(kids[0].stderr.contains("rank 1 has made no progress for"), "\(kids[0].stderr)")
    }
}
