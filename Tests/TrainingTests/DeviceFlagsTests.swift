import Datasets
import Foundation
import Testing
import TestSupport
import Torch
@testable import Training

/// `--device` and the precision flags: one declaration shared by every computing subcommand, typed, validated.
struct DeviceFlagsTests {
    @Test func deviceParsesAndEveryComputingCommandListsIt() throws {
        #expect(try PretrainConfig.flags.parse(["--device", "meta"], onto: PretrainConfig()).device == .meta)
        #expect(try FinetuneConfig.flags.parse(["--device=cpu"], onto: FinetuneConfig()).device == .cpu)
        #expect(try Device(parsing: "cuda:3") == .cuda(3) && Device.cuda(3).description == "cuda:3")
        #expect(
            try EmbedSettings.parse(["--checkpoint", "a", "--data", "b", "--output", "c.npy", "--device", "meta"])
                .device == .meta)
        #expect(try VisualizeSettings.parse(["--video", "v.mp4", "--device", "cpu"]).device == .cpu)
        #expect(try BenchPretrainSettings.parse(["--device", "meta"]).device == .meta)
        // the default: cuda where libtorch sees a GPU, else the CPU
        #expect(PretrainConfig().device == (Runtime.cudaAvailable ? .cuda(0) : .cpu))
        for usage in [
            PretrainConfig.flags.usage(defaults: PretrainConfig()),
            FinetuneConfig.flags.usage(defaults: FinetuneConfig()), EmbedSettings.usage, VisualizeSettings.usage,
            BenchPretrainSettings.usage
        ] {
            #expect(usage.contains("--device "), "\(usage)")
        }
        for usage in [PretrainConfig.flags.usage(defaults: PretrainConfig()), EmbedSettings.usage] {
            #expect(usage.contains("--bf16") && usage.contains("--fp16"))
        }
        #expect(FinetuneConfig.flags.usage(defaults: FinetuneConfig()).contains("--fp32"))
    }

    @Test func badDevicesAndPrecisionsNameTheFlag() throws {
        #expect { try PretrainConfig.flags.parse(["--device", "tpu"], onto: PretrainConfig()) } throws: {
            "\($0)".contains("--device expects cpu, cuda, cuda:N or meta, got 'tpu'")
        }
        #expect { try PretrainConfig.flags.parse(["--device", "cuda:-1"], onto: PretrainConfig()) } throws: {
            "\($0)".contains("--device")
        }
        if !Runtime.cudaAvailable {
            var c = PretrainConfig()
            c.device = .cuda(0)
            #expect { try c.validate() } throws: { "\($0)".contains("--device must be cpu or meta") }
            #expect {
                try EmbedSettings.parse([
                    "--checkpoint", "a", "--data", "b", "--output", "c.npy", "--device",
                    "cuda"
                ])
            } throws: { "\($0)".contains("no CUDA GPU") }
        }
        var c = try PretrainConfig.flags.parse(["--bf16", "--fp16"], onto: PretrainConfig())
        #expect { try c.validate() } throws: { "\($0)".contains("--bf16 and --fp16 exclude each other") }
        c = try PretrainConfig.flags.parse(["--bf16", "--fp16", "--fp32"], onto: PretrainConfig())
        #expect(!c.bf16 && !c.fp16)
        let f = try FinetuneConfig.flags.parse(["--fp16"], onto: FinetuneConfig())
        #expect(f.fp16 && f.autocastDType == .float16)
        #expect { try FinetuneConfig.flags.parse(["--fp32", "x"], onto: FinetuneConfig()) } throws: {
            "\($0)".contains("--fp32 takes no value")
        }
    }

    /// The device is not saved with the settings (a checkpoint resumes on any device); fp16 is.
    @Test func deviceIsNotSavedButFp16Is() throws {
        var c = PretrainConfig()
        (c.device, c.fp16) = (.meta, true)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(c)) as! [String: Any]
        #expect(json["device"] == nil && json["fp16"] as? Bool == true)
        let back = try JSONDecoder().decode(PretrainConfig.self, from: JSONEncoder().encode(c))
        #expect(back.device == PretrainConfig().device && back.fp16)
    }

    /// log.jsonl holds JSON: non-finite numbers are written as null.
    @Test func logWritesNonFiniteAsNull() throws {
        let tmp = try TempDir("log-null")
        let log = try RunLog(dir: tmp.path)
        log.write(["loss": Double.nan, "lr": 0.5, "inner": ["x": Double.infinity], "list": [1.0, -Double.infinity]])
        let text = try String(contentsOfFile: tmp.path + "/log.jsonl", encoding: .utf8)
        #expect(text == "{\"inner\":{\"x\":null},\"list\":[1,null],\"loss\":null,\"lr\":0.5}\n")
    }

    /// The prefetcher hands out batches in order with `depth` more already prepared (the next one's copy in flight),
    /// and records each wait.
    @Test func prefetcherPreparesAhead() throws {
        let feed = RandomFeed(batchesPerEpoch: 3, shape: [1, 1, 1, 1, 2])
        for depth in [0, 1] {
            var prepared: [Int] = []
            let p = BatchPrefetcher(feed.batches(epoch: 0, startBatch: 0), depth: depth) { b -> Int in
                prepared.append(b.index)
                return b.index * 10
            }
            var seen: [Int] = []
            while let n = try p.next() {
                #expect(n.prepared == n.batch.index * 10)
                #expect(prepared.count == min(n.batch.index + 1 + depth, 3), "depth \(depth)")
                #expect(p.lastWait >= 0)
                seen.append(n.batch.index)
            }
            #expect(seen == [0, 1, 2])
        }
        // the CPU upload is the zero-copy wrap, as before
        let up = DeviceUpload(device: .cpu)
        let x = try up([1, 2, 3, 4], shape: [2, 2])
        #expect(x.device == .cpu && !up.pin && !x.isPinned)
        #expect(try x.toArray(Float.self) == [1, 2, 3, 4])
        #expect(try DeviceUpload(device: .meta)([1, 2], shape: [2]).device == .meta)
        var w = DataWait()
        w.add(0.25)
        let r = w.take()
        #expect(r["data_wait"] as? Double == 0.25 && (r["data_wait_share"] as? Double ?? -1) >= 0)
    }

    /// `--help` of every computing subcommand lists `--device` (and the precision flags where they apply); a CUDA
    /// device on a machine without one is refused naming the flag, before any work.
    @Test func helpListsTheDeviceAndCudaIsRefusedHere() throws {
        let commands = [
            ["pretrain"], ["finetune"], ["evaluate"], ["linprobe"], ["finetune-image"], ["embed"], ["visualize"],
            ["bench", "pretrain"]
        ]
        for c in commands {
            let r = try runSTMAE(c + ["--help"], timeout: 60)
            #expect(r.status == 0 && r.stderr.contains("--device "), "\(c): \(r.stderr)")
            if c.count == 1, c != ["visualize"] {
                #expect(r.stderr.contains("--bf16") && r.stderr.contains("--fp16"), "\(c)")
            }
        }
        if !Runtime.cudaAvailable {
            let r = try runSTMAE(["pretrain", "--device", "cuda:0"], timeout: 60)
            #expect(r.status != 0 && r.stderr.contains("--device must be cpu or meta"), "\(r.stderr)")
        }
    }
}
