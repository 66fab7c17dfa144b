// Child processes of the tests: the built executables (`stmae`, `stmae-dist-worker`), tools and the Python reference.
import Foundation

/// The built executable `name` next to the test bundle (`swift build --build-tests` builds every executable target).
public func productPath(_ name: String) throws -> String {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0 ..< 4 {
        let candidate = dir.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    throw TestSupportError(
        "\(name) executable not found near \(CommandLine.arguments[0]); "
            + "run `swift build --build-tests` first")
}

/// Whether `productPath(name)` finds the executable (for `.enabled(if:)`).
public func hasProduct(_ name: String) -> Bool { (try? productPath(name)) != nil }

/// `runSTMAE` that expects success: a non-zero exit status throws, with the command's output.
@discardableResult
public func runOK(_ args: [String], timeout: Double = 240) throws -> (status: Int32, stderr: String) {
    let r = try runSTMAE(args, timeout: timeout)
    guard r.status == 0 else {
        throw TestSupportError("stmae \(args.joined(separator: " ")) exited with \(r.status):\n\(r.stderr)")
    }
    return r
}

/// Runs the built `stmae args…`; returns its exit status and its output (stdout and stderr interleaved, as a
/// terminal shows them). `interrupt` is called with the running process; past `timeout` seconds it is terminated and
/// this throws.
@discardableResult
public func runSTMAE(
    _ args: [String], timeout: Double = 240,
    interrupt: ((Process) -> Void)? = nil
) throws -> (status: Int32, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try productPath("stmae"))
    p.arguments = args
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("stmae-cli-\(UUID().uuidString).log")
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: log) }
    let handle = try FileHandle(forWritingTo: log)
    (p.standardError, p.standardOutput) = (handle, handle)
    try p.run()
    interrupt?(p)
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(50_000) }
    if p.isRunning {
        p.terminate(); p.waitUntilExit()
        throw TestSupportError("stmae \(args.first ?? "") did not finish in \(timeout) s")
    }
    p.waitUntilExit()
    try handle.close()
    // a process ended by a signal reports 128 + the signal, as shells do (never 0, never an ordinary exit code)
    let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
    return (status, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
}

/// Runs `tool args…` (found on PATH) with `environment` added to this process's; returns stdout, or throws with
/// stderr when it exits non-zero.
public func runTool(_ tool: String, _ args: [String], environment: [String: String] = [:]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [tool] + args
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, n in n }
    let errLog = FileManager.default.temporaryDirectory.appendingPathComponent("stmae-tool-\(UUID().uuidString).err")
    _ = FileManager.default.createFile(atPath: errLog.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errLog) }
    let out = Pipe(), err = try FileHandle(forWritingTo: errLog)  // a file: a chatty stderr cannot block the child
    (p.standardOutput, p.standardError) = (out, err)
    try p.run()
    let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    try err.close()
    guard p.terminationStatus == 0 else {
        let what = args.first == "-c" ? ["-c"] : args.prefix(2).map { URL(fileURLWithPath: $0).lastPathComponent }
        let stderr = (try? String(contentsOf: errLog, encoding: .utf8)) ?? ""
        let command = ([tool] + what).joined(separator: " ")
        throw TestSupportError("\(command) failed (status \(p.terminationStatus)):\n\(stderr)")
    }
    return stdout
}

/// Runs `python3 args…` with `.torch`, `.pylibs` (transformers) and `reference/` on PYTHONPATH and the Hugging Face
/// hub offline; returns stdout, or throws with stderr when it exits non-zero.
public func runPython(_ args: [String]) throws -> String {
    let path = ["/.torch", "/.pylibs", "/reference"].map { packageRoot + $0 }.joined(separator: ":")
    return try runTool("python3", args, environment: ["PYTHONPATH": path, "HF_HUB_OFFLINE": "1"])
}
