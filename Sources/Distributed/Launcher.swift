#if canImport(Glibc)
    import Glibc
#endif
import CTorch
import Foundation

/// `stmae launch`'s supervision, torchrun for one host (or one node of several): starts `nprocPerNode` copies of an
/// executable with RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT set, forwards SIGINT/SIGTERM (a second one
/// SIGKILLs the ranks and ends the launcher at once), and when one rank fails stops the others (SIGTERM, SIGKILL after
/// `grace` seconds). Ranks die with the launcher, even after `kill -9` of it (`bindToLauncher`).
public struct Launcher {
    /// Set in each rank's environment to the launcher's pid (see `bindToLauncher`).
    public static let parentVariable = "STMAE_LAUNCH_PID"
    public var nprocPerNode = 1, nnodes = 1, nodeRank = 0
    public var masterAddr = "127.0.0.1", masterPort = 29500
    public var grace = 5.0

    public init(nprocPerNode: Int, nnodes: Int, nodeRank: Int, masterAddr: String, masterPort: Int, grace: Double) {
        self.nprocPerNode = nprocPerNode; self.nnodes = nnodes; self.nodeRank = nodeRank
        self.masterAddr = masterAddr; self.masterPort = masterPort; self.grace = grace
    }

    /// Runs `args` (argv[0] = `executable`) as this node's ranks until all have ended; returns the exit status: the
    /// first failed rank's (128 + signal for one killed by a signal), 128 + signal after a SIGINT/SIGTERM, else 0.
    public func run(executable: String, args: [String]) throws -> Int32 {
        precondition(nprocPerNode <= launchedPids.count)
        let world = nnodes * nprocPerNode
        var base = ProcessInfo.processInfo.environment
        if base["OMP_NUM_THREADS"] == nil, nprocPerNode > 1 {  // like torchrun: don't oversubscribe the cores
            base["OMP_NUM_THREADS"] = "\(max(1, ProcessInfo.processInfo.activeProcessorCount / nprocPerNode))"
        }
        base[Launcher.parentVariable] = "\(getpid())"
        // Our parent may have left SIGINT/SIGTERM blocked (inherited across exec): unblock them here and in children.
        var sigs = sigset_t()
        sigemptyset(&sigs); sigaddset(&sigs, SIGINT); sigaddset(&sigs, SIGTERM)
        sigprocmask(SIG_UNBLOCK, &sigs, nil)
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { s in  // kill and _exit are async-signal-safe
                let again = launcherSignal != 0
                launcherSignal = s
                for i in 0 ..< Int(launchedCount) { kill(launchedPids[i], again ? SIGKILL : s) }
                if again { _exit(128 + s) }
            }
        }
        for local in 0 ..< nprocPerNode {
            var env = base
            env["MASTER_ADDR"] = masterAddr; env["MASTER_PORT"] = "\(masterPort)"
            env["RANK"] = "\(nodeRank * nprocPerNode + local)"; env["WORLD_SIZE"] = "\(world)"
            env["LOCAL_RANK"] = "\(local)"; env["LOCAL_WORLD_SIZE"] = "\(nprocPerNode)";
            env["GROUP_RANK"] = "\(nodeRank)"
            let pid = try spawn(executable, args, env: env.map { "\($0.key)=\($0.value)" })
            launchedPids[local] = pid
            launchedCount = Int32(local + 1)
        }
        return supervise()
    }

    /// Waits for every rank; the first failure stops the others (SIGTERM, SIGKILL after `grace`). A rank that stopped
    /// after a signal (exit 130 / 143: it saved, see `installStopHandlers`) is no failure of the others: they agreed on
    /// the same last step and are ending too, so they get `grace` seconds before the SIGTERM.
    func supervise() -> Int32 {
        var running = Set((0 ..< nprocPerNode).map { launchedPids[$0] })
        var failure: Int32?
        var termAt: Date?, killAt: Date?  // SIGTERM / SIGKILL the rest after these
        while !running.isEmpty {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, termAt == nil && killAt == nil ? 0 : WNOHANG)
            if pid > 0, running.remove(pid) != nil {
                let signaled = (status & 0x7f) != 0, code = signaled ? status & 0x7f : (status >> 8) & 0xff
                if code != 0 && failure == nil {
                    failure = signaled ? 128 + code : code
                    let rank = (0 ..< nprocPerNode).first { launchedPids[$0] == pid } ?? -1
                    let stopped = !signaled && (code == 128 + SIGINT || code == 128 + SIGTERM)
                    if launcherSignal == 0 && !stopped {
                        let why = signaled ? "signal \(code)" : "exit status \(code)"
                        FileHandle.standardError.write(
                            Data("launch: local rank \(rank) failed (\(why)); stopping the others\n".utf8))
                    }
                    if stopped {
                        termAt = Date().addingTimeInterval(grace)
                    } else {
                        for p in running { kill(p, SIGTERM) }
                        killAt = Date().addingTimeInterval(grace)
                    }
                }
            } else if pid < 0 && errno == ECHILD {
                break  // no children left to wait for
            } else if termAt != nil || killAt != nil {
                if let t = termAt, Date() > t {
                    for p in running { kill(p, SIGTERM) }
                    termAt = nil; killAt = Date().addingTimeInterval(grace)
                }
                if let k = killAt, Date() > k { for p in running { kill(p, SIGKILL) }; killAt = .distantFuture }
                usleep(20_000)
            }
        }
        if launcherSignal != 0 { return 128 + launcherSignal }
        return failure ?? 0
    }

    /// In a rank started by `stmae launch` (`STMAE_LAUNCH_PID` set): asks Linux to SIGKILL this process when the
    /// launcher ends, even by `kill -9`, and ends at once if the launcher is already gone (the race before the call).
    public static func bindToLauncher(_ env: [String: String] = ProcessInfo.processInfo.environment) {
        guard let s = env[parentVariable], let launcher = Int32(s) else { return }
        let rc = ctd_set_parent_death_signal(SIGKILL)
        if rc != 0 {
            FileHandle.standardError.write(
                Data("stmae: cannot bind to the launcher (prctl: \(String(cString: strerror(rc))))\n".utf8))
        }
        if getppid() != launcher {
            FileHandle.standardError.write(Data("stmae: the launcher (pid \(launcher)) is gone; this rank ends\n".utf8))
            _exit(1)
        }
    }
}

/// The launcher's children and the signal it got, for the signal handler (fixed storage: no allocation in it).
nonisolated(unsafe) var launchedPids = [pid_t](repeating: 0, count: 1024)
nonisolated(unsafe) var launchedCount: Int32 = 0
nonisolated(unsafe) var launcherSignal: Int32 = 0

/// posix_spawn with default signal dispositions and an empty signal mask; throws with the OS error.
func spawn(_ path: String, _ args: [String], env: [String]) throws -> pid_t {
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var empty = sigset_t(), defaults = sigset_t()
    sigemptyset(&empty)
    sigemptyset(&defaults)
    for s in [SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT] { sigaddset(&defaults, s) }
    posix_spawnattr_setsigmask(&attr, &empty)
    posix_spawnattr_setsigdefault(&attr, &defaults)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    func cStrings(_ a: [String]) -> [UnsafeMutablePointer<CChar>?] { a.map { strdup($0) } + [nil] }
    let argv = cStrings(args), envp = cStrings(env)
    defer { for p in argv + envp { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, nil, &attr, argv, envp)
    guard rc == 0 else { throw DistError("launch: cannot start \(path): \(String(cString: strerror(rc)))") }
    return pid
}

/// Why a TCP port cannot be listened on (nil if it can): the rendezvous would fail on it.
public func portUnavailable(_ host: String, _ port: Int) -> String? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return String(cString: strerror(errno)) }
    defer { close(fd) }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = in_addr_t(0)  // any: TCPStore listens on all addresses
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    return rc == 0 ? nil : "\(String(cString: strerror(errno)))"
}
