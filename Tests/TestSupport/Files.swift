// Paths the tests share: the checkout, temporary directories, bundled fixtures.
import Foundation

/// The stmae checkout (found from this file, Tests/TestSupport/Files.swift).
public let packageRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Whether `.torch/` holds PyTorch (scripts/setup.sh), which the Python reference checks need.
public var hasTorch: Bool { FileManager.default.fileExists(atPath: packageRoot + "/.torch/torch/__init__.py") }

/// A test's failure to set up or run a helper (missing fixture, binary, failed child process).
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A fresh directory `stmae-<tag>-<unique>` under the system temporary directory, removed when the object is released
/// (one per test, or one per process when static).
public final class TempDir: @unchecked Sendable {
    public let path: String
    public init(_ tag: String = "test") throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("stmae-\(tag)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    /// `path/name`.
    public func sub(_ name: String) -> String { path + "/" + name }
}

/// The path of `name` in a test target's `Fixtures/` folder; pass that target's `Bundle.module`.
public func fixturePath(_ name: String, in bundle: Bundle) -> String {
    guard let path = bundle.path(forResource: name, ofType: nil, inDirectory: "Fixtures") else {
        preconditionFailure("fixture \(name) is not in \(bundle.bundlePath)/Fixtures (`make fixtures` writes it)")
    }
    return path
}
