import ArgumentParser
import Datasets
import Foundation
import Training

/// `stmae bench loader`: clips/s of the threaded video loader over the built-in data set (real .mp4 files, FFmpeg
/// selective decoding, random resized crop, flip, normalise), with `stmae pretrain`'s default clip settings.
struct BenchLoader: SettingsCommand {
    static let configuration = command("loader", "Video loader clips/s on the built-in data set (JSON lines).")
    @Argument(parsing: .captureForPassthrough, help: flagsHelp) var arguments: [String] = []
    func run(_ s: BenchLoaderSettings) throws {
        let samples = try VideoList.scan(dirs: [try DefaultData.ensure().train])
        for w in s.workers {
            var c = PretrainConfig()
            c.numWorkers = w
            c.batchSizePerGpu = s.batch
            let feed = try VideoFeed(c, samples: samples)
            let it = try feed.batches(epoch: 0, startBatch: 0)
            let t0 = DispatchTime.now()
            var clips = 0, n = 0
            while n < s.batches, let b = try it.next() { clips += b.shape[0]; n += 1 }
            let secs = seconds(since: t0)
            printJSON([
                "bench": "loader", "workers": w, "clips": clips, "clips_per_s": Double(clips) / secs,
                "clip": [3, c.numFrames, c.imgSize, c.imgSize], "repeat_aug": c.repeatAug,
                "failures": feed.failures.count
            ])
        }
    }
}
