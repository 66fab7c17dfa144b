#if canImport(Glibc)
    import Glibc
#endif
import Foundation

/// The signal (SIGINT/SIGTERM) that asked the training loop to stop after the current step; 0 if none.
nonisolated(unsafe) var stopSignal: Int32 = 0

/// Installs SIGINT/SIGTERM handlers: the first asks the loop to save a checkpoint and stop after the current step
/// (the command then exits 128 + signal, 130 for SIGINT, like a shell); a second one ends the process at once, even
/// one blocked in a system call (opening a FIFO, a collective). Also unblocks them: a parent that spawned us from a
/// thread with signals blocked (test runners do) passes its mask on.
public func installStopHandlers() {
    var set = sigset_t()
    sigemptyset(&set)
    for s in [SIGINT, SIGTERM] {
        signal(s) { sig in
            if stopSignal != 0 { _exit(128 + sig) }  // async-signal-safe
            stopSignal = sig
        }
        sigaddset(&set, s)
    }
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
}

/// 128 + the signal that stopped training (130 for SIGINT), or nil if none did: the command's exit status.
public var stoppedBySignalStatus: Int32? { stopSignal != 0 ? 128 + stopSignal : nil }
