// Helpers shared by the Datasets tests: a small generated video set, bad files, threads.
import Foundation
import Media
import Datasets
import TestSupport

/// A tiny labelled set (8 classes × 2 clips, 16 frames of 32×32 at 10 fps), generated once per test process.
enum Fixture {
    static let dir = try! TempDir("data")
    static let root: String = {
        try! SyntheticVideos.generate(
            root: dir.sub("syn"), trainPerClass: 2, valPerClass: 0, seed: 7, frames: 16, size: 32)
        return dir.sub("syn")
    }()
    static var train: String { root + "/train" }
    static var samples: [VideoSample] { try! VideoList.scan(dirs: [train]) }
    /// Small clips: 4 frames of 16×16 decoded from a 20 px short side.
    static let config = ClipConfig(numFrames: 4, samplingRate: 4, imgSize: 16, shortSide: 20)
}

/// Writes an unreadable "video" of each kind into `dir`: truncated, empty, and text.
func writeBadVideos(in dir: String, from good: String) throws -> [String] {
    let fm = FileManager.default
    try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
    let truncated = dir + "/truncated.mp4", empty = dir + "/empty.mp4", text = dir + "/notes.MP4"
    try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: truncated))
    try Data().write(to: URL(fileURLWithPath: empty))
    try Data("this is not a video\n".utf8).write(to: URL(fileURLWithPath: text))
    return [truncated, empty, text]
}

/// Collects log lines from worker threads.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ s: String) { lock.withLock { lines.append(s) } }
    var all: [String] { lock.withLock { lines } }
}

/// Runs `body` on a background thread and reports whether it finished within `seconds`.
func finishes(within seconds: Double, _ body: @escaping @Sendable () -> Void) -> Bool {
    let done = DispatchSemaphore(value: 0)
    Thread {
        body()
        done.signal()
    }.start()
    return done.wait(timeout: .now() + seconds) == .success
}

/// All batches of an epoch.
func collect(_ loader: VideoLoader, epoch: Int, startBatch: Int = 0) throws -> [ClipBatch] {
    let stream = loader.batches(epoch: epoch, startBatch: startBatch)
    var out: [ClipBatch] = []
    while let b = try stream.nextBatch() { out.append(b) }
    return out
}
