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
            throw ValidationError(
                "--master_port \(masterPort) on \(masterAddr) is not usable: \(why); pick another port")
        }
        let me =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        let (exe, argv) = command[0].contains("/") ? (command[0], command) : (me, [me] + command)
        let launcher = Launcher(
            nprocPerNode: nprocPerNode, nnodes: nnodes, nodeRank: nodeRank, masterAddr: masterAddr,
            masterPort: masterPort, grace: grace)
        let status: Int32
        do { status = try launcher.run(executable: exe, args: argv) } catch { throw ValidationError("\(error)") }
        if status != 0 { throw ExitCode(status) }
    }
}
