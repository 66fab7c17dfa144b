import Foundation
import TestSupport

/// The test-only per-rank worker (Tests/DistWorker), built beside `stmae`.
func workerPath() throws -> String { try productPath("stmae-dist-worker") }

/// A child process (`stmae` or the built executable `program`) with captured output, killed if it outlives `timeout`.
final class Child {
    let process = Process()
    let outFile: URL, errFile: URL
    let started = Date()
    var seconds = 0.0
    var status: Int32?

    init(_ args: [String], program: String = "stmae", env: [String: String] = [:]) throws {
        let tmp = FileManager.default.temporaryDirectory
        let tag = "stmae-dist-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        outFile = tmp.appendingPathComponent(tag + ".out"); errFile = tmp.appendingPathComponent(tag + ".err")
        FileManager.default.createFile(atPath: outFile.path, contents: nil)
        FileManager.default.createFile(atPath: errFile.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: try productPath(program))
        process.arguments = args
        var e = ProcessInfo.processInfo.environment
        for k in [
            "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID",
            "SLURM_NTASKS"
        ] { e[k] = nil }
        e["OMP_NUM_THREADS"] = e["OMP_NUM_THREADS"] ?? "1"
        for (k, v) in env { e[k] = v }
        process.environment = e
        process.standardOutput = try FileHandle(forWritingTo: outFile)
        process.standardError = try FileHandle(forWritingTo: errFile)
        try process.run()
    }

    /// Waits up to `timeout` seconds, then SIGKILLs; returns the exit status (nil if it had to be killed).
    @discardableResult
    func wait(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        seconds = Date().timeIntervalSince(started)
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            status = nil
            return nil
        }
        status = process.terminationStatus
        return status
    }

    var stdout: String { (try? String(contentsOf: outFile, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: errFile, encoding: .utf8)) ?? "" }
    /// The JSON line printed by rank 0.
    var json: [String: Any] {
        for line in stdout.split(separator: "\n").reversed() {
            if let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] { return o }
        }
        return [:]
    }
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: outFile); try? FileManager.default.removeItem(at: errFile)
    }
}

extension Child {
    /// `stmae-dist-worker args…` with `env` added to this process's environment.
    static func worker(_ args: [String], env: [String: String]) throws -> Child {
        try Child(args, program: "stmae-dist-worker", env: env)
    }
}

/// A TCP port on loopback nobody listens on right now.
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
            bind(fd, p, len); return getsockname(fd, p, &len)
        }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Listens on a loopback port until closed (to make "port in use").
func occupyPort() -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = in_addr_t(0)
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
            bind(fd, p, len); return getsockname(fd, p, &len)
        }
    }
    listen(fd, 4)
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}

/// torchrun's environment for rank `r` of `w`.
func rankEnv(_ r: Int, _ w: Int, port: Int) -> [String: String] {
    [
        "RANK": "\(r)", "WORLD_SIZE": "\(w)", "LOCAL_RANK": "\(r)", "LOCAL_WORLD_SIZE": "\(w)",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": "\(port)"
    ]
}

/// Runs `stmae-dist-worker args…` as `w` ranks (spawned directly, no launcher); returns the children after they end.
func runRanks(_ w: Int, _ args: [String], timeout: Double = 120) throws -> [Child] {
    let port = freePort()
    let kids = try (0 ..< w).map { try Child.worker(args, env: rankEnv($0, w, port: port)) }
    for k in kids { k.wait(timeout: timeout) }
    return kids
}
