import Datasets
import Foundation
import Models

/// Batches of augmented clips from video (or image) files (`VideoLoader`), with labels, paths and sample indices:
/// the feed of pre-training (`Pretrainer.run(feed:)`), fine-tuning and evaluation (`FinetuneData`).
/// `repeat_aug` clips of each video are adjacent, so a batch holds `batch_size · repeat_aug` clips.
public struct VideoFeed: ClipFeed {
    public let loader: VideoLoader
    public var batchesPerEpoch: Int { loader.stepsPerEpoch }

    public init(loader: VideoLoader) { self.loader = loader }

    /// The loader `stmae pretrain` uses for `config`: its samples, clip settings, seed and shard of the data.
    public init(_ config: PretrainConfig, samples: [VideoSample], rank: Int = 0, worldSize: Int = 1) throws {
        let clip = config.clipConfig(train: true)
        try clip.validate()
        loader = try VideoLoader(
            samples: samples, config: clip, batchSize: config.batchSizePerGpu, shuffle: true,
            seed: UInt64(config.seed), numWorkers: config.numWorkers, rank: rank, worldSize: worldSize,
            log: { RunLog.info($0) })
        guard loader.stepsPerEpoch > 0 else {
            throw ConfigError(
                "\(samples.count) videos give no full batch of --batch_size_per_gpu \(config.batchSizePerGpu) per rank")
        }
    }

    public func batches(epoch: Int, startBatch: Int) throws -> FeedIterator {
        let stream = loader.batches(epoch: epoch, startBatch: startBatch)
        return FeedIterator { try stream.nextBatch() }
    }

    /// Files skipped so far, each with its reason.
    public var failures: [(path: String, reason: String)] { loader.failures }
}

/// The pre-training video list, as optimized-stmae builds it: scan `--data_dirs` (or the built-in synthetic data set),
/// write `DATAFILE_DIR/train.csv` (`path, label` lines), read it back, keep `--data_frac`.
/// `--path_to_data_dir DIR` instead reads mae_st's `DIR/train.csv` (`Kinetics._construct_loader`, mode "pretrain").
public func pretrainSamples(_ config: PretrainConfig) throws -> [VideoSample] {
    if !config.pathToDataDir.isEmpty {
        let list = try upstreamList(config.pathToDataDir, "train")
        return try VideoList.dataFrac(VideoList.readCSV(path: list), config.dataFrac, seed: UInt64(config.seed))
    }
    let dirs = config.dataDirs.isEmpty ? [try DefaultData.ensure().train] : config.dataDirs
    for d in dirs {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: d, isDirectory: &isDir), isDir.boolValue else {
            throw ConfigError("--data_dirs \(d): no such directory")
        }
    }
    let found = try VideoList.scan(dirs: dirs)
    guard !found.isEmpty else {
        throw ConfigError(
            "--data_dirs \(dirs.joined(separator: " ")): no video files "
                + "(\(VideoList.videoExtensions.sorted().map { "." + $0 }.joined(separator: " "))) found"
        )
    }
    let listDir = config.datafileDir.isEmpty ? config.outputDir : config.datafileDir
    try FileManager.default.createDirectory(atPath: listDir, withIntermediateDirectories: true)
    let csv = listDir + "/train.csv"
    try VideoList.writeCSV(found, to: csv)
    return try VideoList.dataFrac(VideoList.readCSV(path: csv), config.dataFrac, seed: UInt64(config.seed))
}

extension PretrainConfig {
    /// The clip sampling and augmentation these settings describe; `train: false` gives the evaluation view
    /// `temporalIndex` of `numTemporalViews` (short side + centre crop, no augmentation).
    public func clipConfig(train: Bool, temporalIndex: Int = 0, numTemporalViews: Int = 1) -> ClipConfig {
        ClipConfig(
            numFrames: numFrames, samplingRate: samplingRate, targetFps: targetFps, imgSize: imgSize,
            shortSide: shortSide > 0 ? shortSide : nil, repeatAug: train ? repeatAug : 1,
            mean: mean.map(Float.init), std: std.map(Float.init),
            scales: jitterScalesRelative[0] ... jitterScalesRelative[1],
            aspects: jitterAspectRelative[0] ... jitterAspectRelative[1], train: train,
            temporalIndex: temporalIndex, numTemporalViews: numTemporalViews)
    }
}

/// mae_st's list `DIR/{split}.csv` (`Kinetics._construct_loader`); errors name `--path_to_data_dir`.
func upstreamList(_ dir: String, _ split: String) throws -> String {
    let path = dir + "/" + split + ".csv"
    guard FileManager.default.fileExists(atPath: path) else {
        throw ConfigError(
            "--path_to_data_dir \(dir): no \(split).csv in it (mae_st reads DIR/train.csv, DIR/val.csv: "
                + "one `path label` per line)")
    }
    return path
}
