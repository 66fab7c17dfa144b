#if canImport(Glibc)
    import Glibc
#endif
import Foundation

/// The signal (SIGINT/SIGTERM) that asked the training loop to stop after the current step; 0 if none.
nonisolated(unsafe) var stopSignal: Int32 = 0

/// When `stopSignal` arrived (CLOCK_MONOTONIC).
nonisolated(unsafe) var stopSignalTime = timespec()

/// Installs SIGINT/SIGTERM handlers: the first asks the loop to save a checkpoint and stop after the current step
/// (the command then exits 128 + signal, 130 for SIGINT, like a shell); a second one ends the process at once, even
/// one blocked in a system call (opening a FIFO, a collective). A second one within 0.2 s is the same Ctrl-C arriving
/// twice — from the terminal and forwarded by `stmae launch` to ranks in its process group — and only counts once.
/// Also unblocks them: a parent that spawned us from a thread with signals blocked (test runners do) passes its mask
/// on.
public func installStopHandlers() {
    var set = sigset_t()
    sigemptyset(&set)
    for s in [SIGINT, SIGTERM] {
        signal(s) { sig in  // async-signal-safe: clock_gettime, _exit, plain stores
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            if stopSignal != 0 {
                let ns = (now.tv_sec - stopSignalTime.tv_sec) * 1_000_000_000 + (now.tv_nsec - stopSignalTime.tv_nsec)
                if ns > 200_000_000 { _exit(128 + sig) }
                return
            }
            stopSignalTime = now
            stopSignal = sig
        }
        sigaddset(&set, s)
    }
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
}

/// The signal another rank of a data-parallel run got, learnt through `stopAgreed`; 0 if none.
nonisolated(unsafe) var peerStopSignal: Int32 = 0

/// 128 + the signal that stopped training (130 for SIGINT) — this process's or, in a data-parallel run, another
/// rank's — or nil if none did: the command's exit status.
public var stoppedBySignalStatus: Int32? {
    let s = stopSignal != 0 ? stopSignal : peerStopSignal
    return s != 0 ? 128 + s : nil
}

/// Combines every rank's stop request in a data-parallel run: the largest of the ranks' signal numbers (0: none), one
/// all-reduce (`ProcessGroup.allReduceMax`). Every rank calls it once per optimizer step.
public typealias StopVote = (Int) throws -> Int

/// Whether to stop after this step: a signal arrived here, or (with `vote`) at any rank, so all ranks of a job
/// stop after the same step. A rank that learns of another's signal exits with that status too; a signal of its own
/// afterwards still counts as its first (it saves, see `installStopHandlers`).
func stopAgreed(_ vote: StopVote?) throws -> Bool {
    let mine = stopSignal
    guard let vote else { return mine != 0 }
    let agreed = try vote(Int(mine))
    if agreed != 0 && mine == 0 && peerStopSignal == 0 { peerStopSignal = Int32(agreed) }
    return agreed != 0
}

/// When a training loop stops after a step: a signal agreed by every rank (`stopAgreed`), or `maxSteps` (> 0) taken
/// since `startStep`. A failed vote (a peer gone) stops the loop too, and `rethrow()` then ends the run with its error.
final class StopCondition {
    let vote: StopVote?, startStep: Int, maxSteps: Int
    private var voteError: Error?

    init(vote: StopVote?, startStep: Int, maxSteps: Int) {
        (self.vote, self.startStep, self.maxSteps) = (vote, startStep, maxSteps)
    }

    func callAsFunction(step: Int) -> Bool {
        do { return try stopAgreed(vote) || (maxSteps > 0 && step - startStep >= maxSteps) } catch {
            voteError = error
            return true
        }
    }

    /// Throws the failed vote's error, if any.
    func rethrow() throws { if let voteError { throw voteError } }
}
