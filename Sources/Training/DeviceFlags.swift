import Datasets
import Foundation
import Models
import Torch

// `--device` and the precision flags, declared once for every subcommand that computes, and the batches' way to the
// device (pinned host memory, asynchronous copies, a prefetch of one batch).

extension Device: FlagValue {
    public static func parse(_ words: [String], flag: String) throws -> Device {
        guard words.count == 1 else { throw ConfigError("\(flag) expects one value, got \(words.count)") }
        guard let d = try? Device(parsing: words[0]) else {
            throw ConfigError("\(flag) expects cpu, cuda, cuda:N or meta, got '\(words[0])'")
        }
        return d
    }
    public var shown: String { description }
}

extension Valid where T == Device {
    /// cpu and meta always; cuda[:N] where libtorch sees a GPU.
    static var usable: Valid {
        let cuda = Runtime.cudaAvailable
        return Valid(cuda ? "cpu, cuda, cuda:N or meta" : "cpu or meta (this libtorch sees no CUDA GPU)") {
            !$0.isCUDA || cuda
        }
    }
}

/// A subcommand's settings that say where it computes (`--device`; not saved in checkpoints, which load onto any
/// device).
public protocol DeviceSettings {
    var device: Device { get set }
}

/// … and in which precision (`--bf16`, `--fp16`, `--fp32`).
public protocol PrecisionSettings: DeviceSettings {
    var bf16: Bool { get set }
    var fp16: Bool { get set }
}

extension PrecisionSettings {
    /// The autocast dtype: bf16, fp16, or nil (fp32).
    public var autocastDType: DType? { bf16 ? .bfloat16 : fp16 ? .float16 : nil }

    /// `body` under this precision's autocast on `device` (none in fp32).
    public func autocast<R>(_ body: () throws -> R) throws -> R {
        try withAutocast(autocastDType ?? .bfloat16, device: device, enabled: autocastDType != nil, body)
    }
}

let deviceHelp =
    "cpu, cuda, cuda:N or meta (shapes only: a test of the device paths); default: cuda where libtorch sees a "
    + "GPU, else cpu"

extension ConfigFlag where Config: DeviceSettings {
    /// `--device`.
    static var device: ConfigFlag { .option("device", \.device, .usable, deviceHelp) }
}

extension ConfigFlag where Config: PrecisionSettings {
    /// `--device`, `--bf16`, `--fp16`; `training`: fp16 with dynamic loss scaling, and mae_st's `--fp32` (clears
    /// both; the tools take no flag without a setting of its own).
    static func precision(training: Bool) -> [ConfigFlag] {
        let fp16Help =
            "float16 autocast"
            + (training
                ? " with dynamic loss scaling (torch.amp.GradScaler's, state in checkpoints)"
                : "")
        let flags: [ConfigFlag] = [
            .device,
            .option("bf16", \.bf16, "bfloat16 autocast"),
            ConfigFlag(
                name: "fp16", aliases: [], help: fp16Help, isBool: true,
                apply: { c, words, flag in c.fp16 = try Bool.parse(words, flag: flag) }, show: { $0.fp16.shown },
                check: { $0.bf16 && $0.fp16 ? "--bf16 and --fp16 exclude each other: give one" : nil })
        ]
        guard training else { return flags }
        return flags + [
            ConfigFlag(
                name: "fp32", aliases: [],
                help: "no mixed precision (stmae's and mae_st's default; clears --bf16/--fp16)", isBool: false,
                apply: { c, words, flag in
                    guard words.isEmpty else { throw ConfigError("\(flag) takes no value") }
                    c.bf16 = false
                    c.fp16 = false
                }, show: { _ in "" }, check: { _ in nil })
        ]
    }
}

/// Batches from host floats to the device: on the CPU a zero-copy wrap (as before); on CUDA copied into page-locked
/// memory (`pin`, `--pin_mem`) and sent with an asynchronous copy; elsewhere (meta) a plain copy.
public struct DeviceUpload {
    public let device: Device
    public let pin: Bool
    public init(device: Device, pin: Bool = true) {
        self.device = device
        self.pin = pin && device.isCUDA
    }

    /// `data` [shape] as a float32 tensor on the device.
    public func callAsFunction(_ data: [Float], shape: [Int]) throws -> Tensor {
        let host = try Tensor.wrapping(data, shape: shape)
        if device == .cpu { return host }
        return pin ? try host.pinned().to(device, nonBlocking: true) : try host.to(device)
    }

    /// Integer labels [N] on the device.
    public func labels(_ labels: [Int]) throws -> Tensor { try Tensor(labels.map(Int64.init)).to(device) }
}

/// Pulls batches and prepares each for the device (`prepare`: upload, mixup, …), `depth` batches ahead: with depth 1
/// the next batch's host→device copy is issued before the current step computes (CUDA); depth 0 prepares each
/// batch when asked (the CPU: nothing to overlap). Records how long each `next()` waited.
public final class BatchPrefetcher<Prepared> {
    let source: FeedIterator
    let prepare: (ClipBatch) throws -> Prepared
    let depth: Int
    var queue: [(ClipBatch, Prepared)] = []
    var exhausted = false
    /// Seconds the last `next()` took: the step's wait for data.
    public private(set) var lastWait = 0.0

    public init(_ source: FeedIterator, depth: Int, prepare: @escaping (ClipBatch) throws -> Prepared) {
        self.source = source; self.depth = max(depth, 0); self.prepare = prepare
    }

    private func pull() throws {
        guard !exhausted else { return }
        guard let b = try source.next() else { exhausted = true; return }
        queue.append((b, try prepare(b)))
    }

    /// The next batch and what `prepare` made of it; the following `depth` batches are then in flight.
    public func next() throws -> (batch: ClipBatch, prepared: Prepared)? {
        let t0 = DispatchTime.now()
        defer { lastWait = seconds(since: t0) }
        if queue.isEmpty { try pull() }
        guard !queue.isEmpty else { return nil }
        let current = queue.removeFirst()
        while queue.count < depth, !exhausted { try pull() }
        return current
    }
}

/// Time split of the steps since the last report: total seconds and those spent waiting for data.
public struct DataWait {
    var start = DispatchTime.now()
    public private(set) var waited = 0.0
    public init() {}
    public mutating func add(_ seconds: Double) { waited += seconds }
    /// `data_wait` (seconds) and `data_wait_share` (of the elapsed time) since the last call; restarts the window.
    public mutating func take() -> [String: Any] {
        let now = DispatchTime.now()
        let elapsed = Double(now.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        defer { waited = 0; start = now }
        return ["data_wait": waited, "data_wait_share": elapsed > 0 ? min(waited / elapsed, 1) : 0]
    }
}
