import ArgumentParser
import Distributed
import Foundation

/// `stmae launch --nproc_per_node N -- <stmae args>`: torchrun for one host (or one node of several). Starts N copies
/// of this executable with RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT set, forwards SIGINT/SIGTERM, and when
/// one child fails stops the others and exits with that child's status.
struct Launch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run N data-parallel processes of stmae on this host (torchrun-style environment).")

    @Option(name: .customLong("nproc_per_node"), help: "Processes on this node.") var nprocPerNode = 1
    @Option(help: "Number of nodes.") var nnodes = 1
    @Option(name: .customLong("node_rank"), help: "This node's index (0 serves the rendezvous).") var nodeRank = 0
    @Option(name: .customLong("master_addr"), help: "Rendezvous host (rank 0's node).") var masterAddr = "127.0.0.1"
    @Option(name: .customLong("master_port"), help: "Rendezvous port.") var masterPort = 29500
    @Option(name: .customLong("grace"), help: "Seconds between SIGTERM and SIGKILL when stopping children.") var grace = 5.0
    @Argument(parsing: .postTerminator, help: "The stmae command each process runs.") var command: [String] = []

    func validate() throws {
        guard nprocPerNode >= 1 else { throw ValidationError("--nproc_per_node must be ≥ 1, got \(nprocPerNode)") }
        guard nnodes >= 1, (0..<nnodes).contains(nodeRank) else { throw ValidationError("--node_rank must be in 0..<--nnodes") }
        guard (1...65535).contains(masterPort) else { throw ValidationError("--master_port must be in 1...65535") }
        guard !command.isEmpty else { throw ValidationError("nothing to run: expected `stmae launch --nproc_per_node N -- <command> …`") }
    }

    func run() throws {
        if nodeRank == 0, let why = portUnavailable(masterAddr, masterPort) {
            throw ValidationError("--master_port \(masterPort) on \(masterAddr) is not usable: \(why); pick another port")
        }
        let exe = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        let world = nnodes * nprocPerNode
        var base = ProcessInfo.processInfo.environment
        if base["OMP_NUM_THREADS"] == nil, nprocPerNode > 1 {  // like torchrun: don't oversubscribe the cores
            base["OMP_NUM_THREADS"] = "\(max(1, ProcessInfo.processInfo.activeProcessorCount / nprocPerNode))"
        }
        let done = DispatchSemaphore(value: 0)
        var children: [Process] = []
        for local in 0..<nprocPerNode {
            var env = base
            env["MASTER_ADDR"] = masterAddr; env["MASTER_PORT"] = "\(masterPort)"
            env["RANK"] = "\(nodeRank * nprocPerNode + local)"; env["WORLD_SIZE"] = "\(world)"
            env["LOCAL_RANK"] = "\(local)"; env["LOCAL_WORLD_SIZE"] = "\(nprocPerNode)"; env["GROUP_RANK"] = "\(nodeRank)"
            let p = Process()
            p.executableURL = exe
            p.arguments = command
            p.environment = env
            p.terminationHandler = { _ in done.signal() }
            try p.run()
            children.append(p)
        }
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { for c in children where c.isRunning { kill(c.processIdentifier, sig) } }
            s.resume()
            sources.append(s)
        }
        var failure: (rank: Int, status: Int32)?
        for _ in children {
            done.wait()
            if failure == nil, let i = children.firstIndex(where: { !$0.isRunning && $0.terminationStatus != 0 }) {
                failure = (i, children[i].terminationStatus)
                let how = children[i].terminationReason == .uncaughtSignal ? "signal" : "exit status"
                FileHandle.standardError.write("launch: local rank \(i) failed (\(how) \(children[i].terminationStatus)); stopping the others\n".data(using: .utf8)!)
                stop(children)
            }
        }
        _ = sources
        if let f = failure { throw ExitCode(f.status == 0 ? 1 : f.status) }
    }

    /// SIGTERM to the children still running, SIGKILL after `grace` seconds.
    func stop(_ children: [Process]) {
        for c in children where c.isRunning { kill(c.processIdentifier, SIGTERM) }
        DispatchQueue.global().asyncAfter(deadline: .now() + grace) {
            for c in children where c.isRunning { kill(c.processIdentifier, SIGKILL) }
        }
    }
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
