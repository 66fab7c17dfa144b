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
        guard (1...1024).contains(nprocPerNode) else { throw ValidationError("--nproc_per_node must be in 1...1024, got \(nprocPerNode)") }
        guard nnodes >= 1, (0..<nnodes).contains(nodeRank) else { throw ValidationError("--node_rank must be in 0..<--nnodes") }
        guard (1...65535).contains(masterPort) else { throw ValidationError("--master_port must be in 1...65535") }
        guard !command.isEmpty else { throw ValidationError("nothing to run: expected `stmae launch --nproc_per_node N -- <command> …`") }
    }

    func run() throws {
        if nodeRank == 0, let why = portUnavailable(masterAddr, masterPort) {
            throw ValidationError("--master_port \(masterPort) on \(masterAddr) is not usable: \(why); pick another port")
        }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let launcher = Launcher(nprocPerNode: nprocPerNode, nnodes: nnodes, nodeRank: nodeRank, masterAddr: masterAddr,
                                masterPort: masterPort, grace: grace)
        let status: Int32
        do { status = try launcher.run(executable: exe, args: [exe] + command) } catch { throw ValidationError("\(error)") }
        if status != 0 { throw ExitCode(status) }
    }
}
