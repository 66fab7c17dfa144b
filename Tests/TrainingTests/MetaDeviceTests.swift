import Datasets
import Foundation
import Models
import NN
import Testing
import TestSupport
import Torch
@testable import Training

/// In-memory labelled clips (labels i mod classes) for steps that need no decoding.
struct LabelledFeed: ClipFeed {
    let batchesPerEpoch: Int
    let shape: [Int]
    let classes: Int
    func batches(epoch: Int, startBatch: Int) -> FeedIterator {
        FeedIterator(
            (startBatch ..< batchesPerEpoch).lazy.map { i in
                let g = try! Generator(seed: UInt64(epoch * 1000 + i))
                let n = shape[0]
                return ClipBatch(
                    data: try! Tensor.randn(shape, generator: g).toArray(Float.self), shape: shape, index: i,
                    labels: (0 ..< n).map { ($0 + i) % classes }, sampleIndices: (0 ..< n).map { i * n + $0 })
            })
    }
}

/// Every tensor on libtorch's `meta` device (shapes, no data): libtorch refuses to mix it with CPU tensors, so a
/// tensor a step leaves on the CPU (a mask, a batch, an optimizer moment, a constant table) fails the step. This is
/// the device path of a GPU run, checked without a GPU; values (`item`, logging) are not read on meta.
struct MetaDeviceTests {
    /// Every parameter, buffer and optimizer moment of a module on `device`.
    func expectAll(on device: Device, _ model: Module, _ optimizer: AdamW? = nil) {
        for (k, t) in model.namedTensors() { #expect(t.device == device, "\(k) on \(t.device)") }
        for (k, t) in (try? optimizer?.stateDict()) ?? [] { #expect(t.device == device, "\(k) on \(t.device)") }
    }

    /// Two pre-training steps of `c` on meta; every tensor stays there. Returns the lines of log.jsonl.
    func twoMetaPretrainSteps(_ c: PretrainConfig) throws -> (Pretrainer, [Substring]) {
        let p = try Pretrainer(c)
        expectAll(on: .meta, p.model)
        var state = TrainState()
        let ctx = PretrainContext(
            model: p.model, optimizer: p.optimizer,
            schedule: CosineSchedule(lr: p.lr, minLR: 0, warmupEpochs: 0, epochs: 1), generator: p.generator,
            config: c, log: p.log, flopsPerClip: 1, peakGFLOPs: .nan, shouldStop: { $0.step >= 2 },
            scaler: p.scaler)
        let done = try trainOneEpoch(ctx, feed: RandomFeed(batchesPerEpoch: 4, shape: [2, 3, 4, 32, 32]), state: &state)
        #expect(!done && state.step == 2)
        expectAll(on: .meta, p.model, p.optimizer)
        #expect(p.optimizer.state.count == p.model.parameters().count)
        return (p, try String(contentsOfFile: c.logDirectory + "/log.jsonl", encoding: .utf8).split(separator: "\n"))
    }

    /// A full pre-training step (loader batch → masking noise → MAE forward/backward → clip → fused AdamW), in fp32
    /// and in fp16 with the loss scaler (unscale, inf check, scale update), with dual masking.
    @Test(arguments: [false, true]) func pretrainStep(fp16: Bool) throws {
        let tmp = try TempDir("meta-pretrain")
        var c = tinyConfig(tmp.path)
        (c.device, c.accumIter, c.fp16, c.decoderMaskRatio, c.clipGrad) = (.meta, 1, fp16, 0.5, 1.0)
        let (_, log) = try twoMetaPretrainSteps(c)
        // log.jsonl: the unread loss is null (JSON has no NaN); the step's wait for data is recorded
        #expect(log.count == 2 && log.allSatisfy { $0.contains("\"loss\":null") && $0.contains("\"data_wait\":") })
        #expect(log.allSatisfy { $0.contains("\"loss_scale\":null") == fp16 })
    }

    /// A MaskFeat pre-training step (cube mask → HOG target of the centre frames → masked-token loss → AdamW), in fp32
    /// and fp16: the HOG target is computed on the clip's device (not read back into Swift arrays on the CPU).
    @Test(arguments: [false, true]) func maskFeatPretrainStep(fp16: Bool) throws {
        let tmp = try TempDir("meta-maskfeat")
        var c = tinyMaskFeatConfig(tmp.path)
        (c.device, c.accumIter, c.fp16, c.clipGrad) = (.meta, 1, fp16, 1.0)
        let (p, log) = try twoMetaPretrainSteps(c)
        #expect(p.model is MaskFeat)
        #expect(log.count == 2 && log.allSatisfy { $0.contains("\"loss\":null") })
    }

    /// A fine-tuning step (mixup's soft targets, drop path) and a multi-view evaluation step of a ViT classifier.
    @Test func finetuneAndEvaluationSteps() throws {
        let tmp = try TempDir("meta-finetune")
        var c = try tinyFinetuneConfig(tmp.path)
        (c.device, c.batchSize, c.dropPathRate, c.mixup, c.clipGrad) = (.meta, 4, 0.1, 0.8, 1.0)
        let f = try Finetuner(c, numClasses: 8)
        expectAll(on: .meta, f.model)
        let feed = LabelledFeed(batchesPerEpoch: 3, shape: [4, 3, 4, 32, 32], classes: 8)
        var state = FinetuneState()
        let ctx = FinetuneContext(
            model: f.model, optimizer: f.optimizer,
            schedule: CosineSchedule(lr: f.lr, minLR: 0, warmupEpochs: 0, epochs: 1), config: c, numClasses: 8,
            log: f.log, shouldStop: { $0.step >= 2 }, stochastic: StochasticModules(f.model))
        #expect(try !trainOneEpochFinetune(ctx, feed: feed, state: &state) && state.step == 2)
        expectAll(on: .meta, f.model, f.optimizer)
        // evaluation: forward, loss and softmax on meta; nothing is counted (no values)
        let r = try evaluateViews(f.model, feeds: [feed], numClasses: 8, bf16: false, device: .meta)
        #expect(r.loss.isNaN)
        // plain labels (no mixup) take the label-smoothing loss
        c.mixup = 0; c.cutmix = 0
        let plain = FinetuneContext(
            model: f.model, optimizer: f.optimizer, schedule: ctx.schedule, config: c, numClasses: 8, log: f.log,
            shouldStop: { _ in true })
        state = FinetuneState()
        #expect(try !trainOneEpochFinetune(plain, feed: feed, state: &state) && state.step == 1)
    }

    /// A checkpoint written on the CPU resumes onto another device (map_location): weights and optimizer state are
    /// copied onto the model's device, shapes preserved; a CPU step there still fails loudly on a leftover tensor.
    @Test func cpuCheckpointLoadsOntoMeta() throws {
        let tmp = try TempDir("meta-resume")
        var c = tinyConfig(tmp.path)
        (c.device, c.maxSteps, c.accumIter, c.epochs) = (.cpu, 1, 1, 1)
        let cpu = try Pretrainer(c)
        try cpu.run(feed: RandomFeed(batchesPerEpoch: 2, shape: [2, 3, 4, 32, 32]))
        c.device = .meta
        c.maxSteps = 0
        c.resume = tmp.path + "/checkpoint-last.json"
        let meta = try Pretrainer(c)
        #expect(meta.state.step == 1)
        expectAll(on: .meta, meta.model, meta.optimizer)
        let shapes = { (m: Module) in m.namedTensors().map { "\($0.0) \($0.1.shape)" } }
        #expect(shapes(meta.model) == shapes(cpu.model))
        let opt = { (o: AdamW) in try o.stateDict().map { "\($0.0) \($0.1.shape)" } }
        #expect(try opt(meta.optimizer) == opt(cpu.optimizer))
        #expect(meta.optimizer.state.count == cpu.optimizer.state.count && !cpu.optimizer.state.isEmpty)
        // nothing to write from meta: a clear error, no partial checkpoint
        #expect { try meta.save(name: "meta") } throws: { "\($0)".contains("meta device, which holds no values") }
        #expect(!FileManager.default.fileExists(atPath: tmp.path + "/meta.json"))
        // a CPU tensor meeting a meta one is an error, which is what makes these tests catch a forgotten move
        let w = try #require(meta.model.parameters().first)
        #expect(throws: (any Error).self) { try w + Tensor.zeros(w.shape) }
    }

    /// `Module.move(to:)` moves parameters, buffers and `Constant`s in place: the same tensors (optimizer groups
    /// made before still hold them), still trainable, same shapes.
    @Test func moduleMoveKeepsIdentity() throws {
        var c = ViTConfig()
        (c.numFrames, c.imgSize, c.patchSize, c.numClasses, c.embedDim, c.depth, c.numHeads, c.sincosPosEmbed) = (
            4, 16, 8, 3, 32, 1, 2, true
        )
        let vit = try VisionTransformer(c)
        let before = vit.namedTensors().map { ($0.0, $0.1.identity, $0.1.shape, $0.1.requiresGrad) }
        try vit.move(to: .meta)
        let after = vit.namedTensors()
        for ((k, id, shape, rg), (k2, t)) in zip(before, after) {
            #expect(k == k2 && t.identity === id && t.shape == shape, "\(k)")
            #expect(t.requiresGrad == rg && t.device == .meta, "\(k)")
        }
        #expect(vit.sincosPosEmbed?.value.device == .meta)
        let y = try vit(Tensor.zeros([1, 3, 4, 16, 16], device: .meta))
        #expect(y.shape == [1, 3] && y.device == .meta)
    }
}
