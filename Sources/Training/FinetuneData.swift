import Foundation
import Datasets
import Media
import Models

/// The data of a fine-tuning run: training feed, one validation feed per test view, class names.
public struct FinetuneData {
    public var train: VideoFeed?
    public var val: [VideoFeed]
    public var classNames: [String]
    public var numClasses: Int
    public var trainCount: Int, valCount: Int
    /// The validation feeds hold this rank's shard (`--dist_eval`), not every video.
    public var valSharded = false

    /// Sources: `--train_dir` / `--val_dir` (class folders, sorted folder index = label, or `path, label` lists);
    /// neither given: the built-in synthetic set (its middle frames as PNGs for `images`; no flips unless
    /// `--flip_prob`). The class list (names → labels) is fixed by the training folders (or by `classNames`, the
    /// list a checkpoint was trained with) and labels every other folder: a validation folder with a subset of the
    /// classes keeps their indices, an unknown class is an error. `rank` of `worldSize` trains on its shard
    /// (`VideoLoader`) and, with `--dist_eval`, validates on videos rank, rank + worldSize, … (no padding: each video
    /// counted once); without it rank 0 validates on all videos and the others on none. Rank 0 writes the lists.
    public init(
        _ config: FinetuneConfig, needTrain: Bool = true, classNames saved: [String]? = nil, rank: Int = 0,
        worldSize: Int = 1, log: @escaping @Sendable (String) -> Void = { RunLog.info($0) }
    ) throws {
        var c = config
        var (trainSrc, valSrc) = try c.dataSources()
        if trainSrc.isEmpty && valSrc.isEmpty {
            if c.flipProb < 0 { c.flipProb = 0 }  // left/right motion classes: a mirrored clip has the other label
            let d = try DefaultData.ensure()
            (trainSrc, valSrc) = c.images ? try Self.defaultImages(train: d.train, val: d.val) : d
        }
        func isDir(_ src: String) -> Bool {
            var d: ObjCBool = false
            return FileManager.default.fileExists(atPath: src, isDirectory: &d) && d.boolValue
        }
        let trainClasses =
            needTrain && isDir(trainSrc) ? try? VideoList.classNames(dirs: [trainSrc], images: c.images) : nil
        let classes = saved.flatMap { $0.isEmpty ? nil : $0 } ?? trainClasses.flatMap { $0.isEmpty ? nil : $0 }
        func load(_ src: String, _ flag: String) throws -> [VideoSample] {
            do {
                let s = try VideoList.samples(from: src, images: c.images, classes: classes)
                guard !s.isEmpty else { throw DatasetError("no \(c.images ? "images (jpg/png)" : "videos") found") }
                return s
            } catch { throw ConfigError("\(flag) \(src): \(error)") }
        }
        var trainSamples: [VideoSample] = []
        if needTrain {
            guard !trainSrc.isEmpty else { throw ConfigError("--train_dir is required when --val_dir is given") }
            trainSamples = try VideoList.retainPerClass(
                try load(trainSrc, "--train_dir"), c.fracRetained, seed: UInt64(c.seed))
        }
        let valSamples = valSrc.isEmpty ? [] : try load(valSrc, "--val_dir")
        classNames =
            try classes ?? VideoList.classNames(dirs: [valSrc].filter { !$0.isEmpty && isDir($0) }, images: c.images)
        let maxLabel = (trainSamples + valSamples).map(\.label).max() ?? 0
        // mae_st sizes the head by --num_classes; without it the data does, but a stray label must not make a huge head
        guard c.numClasses > 0 || maxLabel < Self.maxInferredClasses else {
            throw ConfigError(
                "label \(maxLabel) in the data: pass --num_classes if \(maxLabel + 1) classes are meant "
                    + "(without it at most \(Self.maxInferredClasses) are inferred)")
        }
        numClasses = c.numClasses > 0 ? c.numClasses : max(classNames.count, maxLabel + 1)
        guard maxLabel < numClasses else {
            throw ConfigError(
                "--num_classes \(numClasses): the data has label \(maxLabel) (labels must be < num_classes)")
        }
        if classNames.count != numClasses { classNames = (0 ..< numClasses).map(String.init) }
        if needTrain && rank == 0 {  // the lists the run reads, as optimized-stmae's finetune.py writes them
            let listDir = c.datafileDir.isEmpty ? c.outputDir : c.datafileDir
            try FileManager.default.createDirectory(atPath: listDir, withIntermediateDirectories: true)
            try VideoList.writeCSV(trainSamples, to: listDir + "/train.csv")
            if !valSamples.isEmpty { try VideoList.writeCSV(valSamples, to: listDir + "/val.csv") }
        }
        trainCount = trainSamples.count
        valCount = valSamples.count
        if needTrain {
            let loader = try VideoLoader(
                samples: trainSamples, config: c.clipConfig(train: true),
                batchSize: c.batchSize, shuffle: true, seed: FinetuneRandom.key(c.seed),
                numWorkers: c.numWorkers, dropLast: true, rank: rank, worldSize: worldSize,
                log: log)
            train = VideoFeed(loader: loader)
            guard train!.batchesPerEpoch > 0 else {
                throw ConfigError(
                    "--batch_size \(c.batchSize) is larger than the \(trainSamples.count) training samples")
            }
        }
        val = []
        var valShard = valSamples
        if worldSize > 1 {
            valSharded = c.distEval && valSamples.count >= worldSize  // else rank 0 validates on all
            if valSharded {
                valShard = stride(from: rank, to: valSamples.count, by: worldSize).map { valSamples[$0] }
            } else if rank != 0 {
                valShard = []
            }
        }
        if !valShard.isEmpty {
            let crops = c.numSpatialCrops == 1 ? [1] : [0, 1, 2]
            for t in 0 ..< c.numTemporalViews {
                for s in crops {
                    let view = try c.clipConfig(train: false, temporalIndex: t, spatialIndex: s)
                    let loader = try VideoLoader(
                        samples: valShard, config: view, batchSize: c.batchSize,
                        shuffle: false, numWorkers: c.numWorkers, dropLast: false, log: log)
                    val.append(VideoFeed(loader: loader))
                }
            }
        }
    }

    /// The most classes a run infers from its labels without `--num_classes`.
    public static let maxInferredClasses = 100_000

    /// The built-in set as images: the middle frame of every synthetic video, written once as PNG next to the videos.
    static func defaultImages(train: String, val: String) throws -> (String, String) {
        let root = (train as NSString).deletingLastPathComponent + "/images"
        let stamp = root + "/.complete"
        if FileManager.default.fileExists(atPath: stamp) { return (root + "/train", root + "/val") }
        for (split, dir) in [("train", train), ("val", val)] {
            for s in try VideoList.scan(dirs: [dir]) {
                let rel = String(s.path.dropFirst(dir.count))
                let out = root + "/" + split + ((rel as NSString).deletingPathExtension) + ".png"
                try FileManager.default.createDirectory(
                    atPath: (out as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                let reader = try VideoReader(path: s.path, threads: 1)
                let clip = try reader.decodeFrames(at: [reader.frameCount / 2], shortSide: nil)
                try Image(width: clip.width, height: clip.height, pixels: Array(clip.frame(0))).savePNG(path: out)
            }
        }
        try atomicWrite(Data("ok\n".utf8), to: stamp)
        return (root + "/train", root + "/val")
    }
}
