import ArgumentParser
import Distributed
import Foundation
import Training

/// `stmae launch --nproc_per_node N -- <stmae args>`: torchrun for one host (or one node of several). Starts N copies
/// of this executable with RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT set, forwards SIGINT/SIGTERM, and when
/// one child fails stops the others and exits with that child's status. A command starting with a path (`./worker`,
/// `/abs/prog`) runs that program instead of stmae, like torchrun's `--no-python`.
struct Launch: FlagCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run N data-parallel processes of stmae on this host (torchrun-style environment).",
        discussion: flagList("Usage: stmae launch [--flag value …] -- <stmae command and its flags>"), helpNames: [])

    typealias Settings = LaunchSettings
    @Argument(parsing: .captureForPassthrough, help: "--flag value … -- <the stmae command each process runs>")
    var arguments: [String] = []

    func run() throws {
        let before = arguments.firstIndex(of: "--").map { Array(arguments[..<$0]) } ?? arguments
        guard let s = try settings(before) else { return }
        let command: [String]
        do { command = try LaunchSettings.split(arguments).command } catch { throw ValidationError("\(error)") }
        let (nprocPerNode, nnodes, nodeRank, masterAddr, masterPort, grace) =
            (s.nprocPerNode, s.nnodes, s.nodeRank, s.masterAddr, s.masterPort, s.grace)
        if nodeRank == 0, let why = portUnavailable(masterAddr, masterPort) {
            throw ValidationError("--master_port \(masterPort) on \(masterAddr) is not usable: \(why); pick another port")
        }
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        let (exe, argv) = command[0].contains("/") ? (command[0], command) : (me, [me] + command)
        let world = nnodes * nprocPerNode
        var base = ProcessInfo.processInfo.environment
        if base["OMP_NUM_THREADS"] == nil, nprocPerNode > 1 {  // like torchrun: don't oversubscribe the cores
            base["OMP_NUM_THREADS"] = "\(max(1, ProcessInfo.processInfo.activeProcessorCount / nprocPerNode))"
        }
        // Our parent may have left SIGINT/SIGTERM blocked (inherited across exec): unblock them here and in children.
        var sigs = sigset_t()
        sigemptyset(&sigs); sigaddset(&sigs, SIGINT); sigaddset(&sigs, SIGTERM)
        sigprocmask(SIG_UNBLOCK, &sigs, nil)
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { s in  // forward to the children (kill is async-signal-safe)
                for i in 0..<Int(launchedCount) { kill(launchedPids[i], s) }
            }
        }
        for local in 0..<nprocPerNode {
            var env = base
            env["MASTER_ADDR"] = masterAddr; env["MASTER_PORT"] = "\(masterPort)"
            env["RANK"] = "\(nodeRank * nprocPerNode + local)"; env["WORLD_SIZE"] = "\(world)"
            env["LOCAL_RANK"] = "\(local)"; env["LOCAL_WORLD_SIZE"] = "\(nprocPerNode)"; env["GROUP_RANK"] = "\(nodeRank)"
            let pid = try spawn(exe, argv, env: env.map { "\($0.key)=\($0.value)" })
            launchedPids[local] = pid
            launchedCount = Int32(local + 1)
        }
        var running = Set((0..<nprocPerNode).map { launchedPids[$0] })
        var failure: Int32?
        var deadline: Date?  // SIGKILL the rest after this
        while !running.isEmpty {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, deadline == nil ? 0 : WNOHANG)
            if pid > 0, running.remove(pid) != nil {
                let signaled = (status & 0x7f) != 0, code = signaled ? status & 0x7f : (status >> 8) & 0xff
                if code != 0 && failure == nil {
                    failure = code
                    let rank = (0..<nprocPerNode).first { launchedPids[$0] == pid } ?? -1
                    FileHandle.standardError.write("launch: local rank \(rank) failed (\(signaled ? "signal" : "exit status") \(code)); stopping the others\n".data(using: .utf8)!)
                    for p in running { kill(p, SIGTERM) }
                    deadline = Date().addingTimeInterval(grace)
                }
            } else if let d = deadline {
                if Date() > d { for p in running { kill(p, SIGKILL) }; deadline = .distantFuture }
                usleep(20_000)
            }
        }
        if let f = failure { throw ExitCode(f) }
    }
}

/// Children of `stmae launch`, for the signal handler (fixed storage: no allocation in the handler).
nonisolated(unsafe) var launchedPids = [pid_t](repeating: 0, count: 1024)
nonisolated(unsafe) var launchedCount: Int32 = 0

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
    guard rc == 0 else { throw ValidationError("launch: cannot start \(path): \(String(cString: strerror(rc)))") }
    return pid
}

/// Why a TCP port cannot be listened on (nil if it can): the rendezvous would fail on it.
func portUnavailable(_ host: String, _ port: Int) -> String? {
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
