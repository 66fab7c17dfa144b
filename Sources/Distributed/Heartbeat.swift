import CTorch
import Foundation

/// Notices a rank that stopped running (SIGSTOP, a frozen host, a debugger) long before `--dist_timeout` (30 min by
/// default): every rank adds to its counter `stmae/heartbeat/<rank>` in the rendezvous store once per `interval` and
/// reads the others'. A peer whose counter has not moved for `timeout` seconds — or a store (served by rank 0) that
/// has not answered for that long — ends this rank with a message naming the silent rank, so the job stops (the
/// launcher then stops the rest). A rank that finishes normally sets `stmae/finished/<rank>` and is no longer watched.
/// `--heartbeat_timeout` (seconds; 0 turns the watch off) sets `timeout`, else `STMAE_HEARTBEAT_TIMEOUT`, else 60.
final class Heartbeat: @unchecked Sendable {
    static let defaultTimeout = 60.0
    let rank: Int, worldSize: Int
    let timeout: Double, interval: Double
    let storeAddress: String
    private let store: ctd_store
    private let lock = NSLock()  // guards the fields below and serialises store operations with `stop`
    private let storeLock = NSLock()
    private var stopped = false
    private var lastRound: UInt64
    private var finishedRanks = Set<Int>()

    /// The timeout from `STMAE_HEARTBEAT_TIMEOUT`, nil when the watch is off.
    static func configuredTimeout(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> Double? {
        guard let s = env["STMAE_HEARTBEAT_TIMEOUT"], !s.isEmpty else { return defaultTimeout }
        guard let t = Double(s), t >= 0, t.isFinite else {
            throw DistError("STMAE_HEARTBEAT_TIMEOUT=\(s): expected seconds ≥ 0 (0 turns the heartbeat off)")
        }
        return t > 0 ? t : nil
    }

    init(group: ctd_group, rank: Int, worldSize: Int, timeout: Double, storeAddress: String) throws {
        var s: ctd_store?
        try dcheck(
            ctd_store_clone(group, Int64(timeout * 1000), &s), "heartbeat: second connection to the rendezvous store")
        store = s!
        self.rank = rank; self.worldSize = worldSize; self.timeout = timeout; self.storeAddress = storeAddress
        interval = min(timeout / 5, max(1, Double(worldSize) / 32))
        lastRound = Heartbeat.now()
        let beat = Thread { [self] in beatLoop() }
        beat.name = "stmae-heartbeat"
        beat.start()
        let watch = Thread { [self] in watchLoop() }
        watch.name = "stmae-heartbeat-watch"
        watch.start()
    }

    deinit { ctd_store_free(store) }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
    static func seconds(since t: UInt64) -> Double { Double(now() &- t) / 1e9 }

    /// Stops the watch; `finished`: tells the peers this rank ended normally (so they stop watching it).
    func stop(finished: Bool) {
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }; return !stopped
        }
        guard first, finished, storeLock.lock(before: Date().addingTimeInterval(2)) else { return }
        defer { storeLock.unlock() }
        var v: Int64 = 0
        _ = ctd_store_add(store, "stmae/finished/\(rank)", 1, &v)
    }

    /// One store operation; nil when the store is gone (rank 0 ended: the collectives report that themselves), and
    /// the watch ends. A store that failed only after a long silence is a stopped rank 0.
    private func add(_ key: String, _ delta: Int64) -> Int64? {
        let t = Heartbeat.now()
        storeLock.lock()
        var v: Int64 = 0
        let rc = ctd_store_add(store, key, delta, &v)
        storeLock.unlock()
        if rc == 0 { return v }
        let waited = Heartbeat.seconds(since: t)
        if rank != 0, waited > timeout / 2, !isStopped {
            fail(
                "rank 0 has made no progress for \(Int(waited)) s (the rendezvous store it serves at \(storeAddress) "
                    + "stopped answering: the process is stopped, frozen or its host is down)")
        }
        lock.withLock { stopped = true }
        return nil
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    /// Beats and watches the peers' counters.
    private func beatLoop() {
        var seen = [Int64](repeating: -1, count: worldSize)
        var changed = [UInt64](repeating: Heartbeat.now(), count: worldSize)
        var previous = Heartbeat.now()
        while !isStopped {
            // The store is gone (rank 0 ended or died): the collectives report that themselves.
            guard add("stmae/heartbeat/\(rank)", 1) != nil else { return }
            let t = Heartbeat.now()
            if Double(t &- previous) / 1e9 > timeout / 2 {  // this process itself was stopped: start the clocks anew
                changed = changed.map { _ in t }
            }
            previous = t
            for peer in 0 ..< worldSize where peer != rank && !finishedRanks.contains(peer) {
                guard let v = add("stmae/heartbeat/\(peer)", 0) else { return }
                if v != seen[peer] {
                    (seen[peer], changed[peer]) = (v, t)
                } else if Double(t &- changed[peer]) / 1e9 > timeout {
                    if let done = add("stmae/finished/\(peer)", 0), done > 0 { finishedRanks.insert(peer); continue }
                    if isStopped { return }
                    fail(
                        "rank \(peer) has made no progress for \(Int(timeout)) s (its heartbeat in the rendezvous "
                            + "store stopped: the process is stopped, frozen or its host is down)")
                }
            }
            lock.withLock { lastRound = Heartbeat.now() }
            Thread.sleep(forTimeInterval: interval)
        }
    }

    /// Notices a store that stopped answering (its host, rank 0, is stopped or frozen).
    private func watchLoop() {
        var previous = Heartbeat.now()
        while !isStopped {
            Thread.sleep(forTimeInterval: interval)
            let t = Heartbeat.now()
            if Double(t &- previous) / 1e9 > timeout / 2 { lock.withLock { lastRound = t } }  // we were stopped
            previous = t
            let silent = lock.withLock { Double(t &- lastRound) / 1e9 }
            if silent > timeout + interval, !isStopped {
                fail(
                    "rank 0 has made no progress for \(Int(silent)) s (the rendezvous store it serves at "
                        + "\(storeAddress) stopped answering: the process is stopped, frozen or its host is down)")
            }
        }
    }

    private func fail(_ why: String) -> Never {
        let text =
            "stmae: rank \(rank): \(why); stopping this rank so the job ends "
            + "(STMAE_HEARTBEAT_TIMEOUT=\(Int(timeout)) s; 0 turns this check off)\n"
        FileHandle.standardError.write(Data(text.utf8))
        _exit(1)
    }
}
