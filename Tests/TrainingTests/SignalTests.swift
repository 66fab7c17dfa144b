import Foundation
import Testing
import TestSupport
@testable import Training

/// SIGINT/SIGTERM: the first saves and stops (exit 130 / 143), a second ends the process at once.
@Suite(.serialized) struct SignalTests {
    /// A process blocked in a system call (opening a FIFO where its log goes) cannot reach a checkpoint: the first
    /// SIGTERM only asks for one, the second ends it at once with 128 + signal.
    @Test(.timeLimit(.minutes(2))) func secondSignalEndsABlockedProcess() throws {
        let tmp = try TempDir("sig-fifo")
        let (data, out) = try tinyVideoSet(in: tmp)
        #expect(mkfifo(out + "/log.jsonl", 0o644) == 0)
        var stillRunning = false
        let r = try runWithEnv(
            try productPath("stmae"), ["pretrain", "--data_dirs", data, "--output_dir", out] + tinyCLIFlags,
            timeout: 60
        ) { p in
            usleep(4_000_000)  // past the handlers' installation, blocked in open(log.jsonl)
            kill(p.processIdentifier, SIGTERM)
            usleep(500_000)
            stillRunning = p.isRunning
            kill(p.processIdentifier, SIGTERM)
        }
        #expect(stillRunning, "the first SIGTERM only asks for a checkpoint")
        #expect(r.status == 128 + SIGTERM, "\(r.output)")
    }
}
