import ArgumentParser
import Distributed
import Foundation

/// `stmae launch --nproc_per_node N -- <stmae args>`: torchrun for one host (or one node of several). Starts N copies
/// of this executable with RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT set, forwards SIGINT/SIGTERM, and when
/// one child fails stops the others and exits with that child's status. A command starting with a path (`./worker`,
/// `/abs/prog`) runs that program instead of stmae, like torchrun's `--no-python`.
struct Launch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run N data-parallel processes of stmae on this host (torchrun-style environment).")

    @Option(name: .customLong("nproc_per_node"), help: "Processes on this node.") var nprocPerNode = 1
    @Option(help: "Number of nodes.") var nnodes = 1
    @Option(name: .customLong("node_rank"), help: "This node's index (0 serves the rendezvous).") var nodeRank = 0
    @Option(name: .customLong("master_addr"), help: "Rendezvous host (rank 0's node).") var masterAddr = "127.0.0.1"
    @Option(name: .customLong("master_port"), help: "Rendezvous port.") var masterPort = 29500
    @Option(name: .customLong("grace"), help: "Seconds between SIGTERM and SIGKILL when stopping children.") var grace = 5.0
    @Argument(parsing: .postTerminator, help: "The stmae command each process runs (or a program, named by a path).")
    var command: [String] = []

    func validate() throws {
        guard (1...1024).contains(nprocPerNode) else { throw ValidationError("--nproc_per_node must be in 1...1024, got \(nprocPerNode)") }
        guard nnodes >= 1, (0..<nnodes).contains(nodeRank) else { throw ValidationError("--node_rank must be in 0..<--nnodes") }
        guard (1...65535).contains(masterPort) else { throw ValidationError("--master_port must be in 1...65535") }
        guard !command.isEmpty else { throw ValidationError("nothing to run: expected `stmae launch --nproc_per_node N -- <command> …`") }
    }

    func run() throws {
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
