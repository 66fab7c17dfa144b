import Datasets
import Foundation
import Testing
import TestSupport
import Models
import NN
import Torch
@testable import Training

/// Micro-batch `b` of a recipe run (counted over all epochs): `torch.rand(shape, Generator(1000 + b))`, as
/// reference/make_recipe_fixtures.py draws it.
func recipeBatch(_ b: Int, clips: Int) throws -> [Float] {
    try Tensor.rand([clips, 3, 4, 8, 8], generator: Generator(seed: UInt64(1000 + b))).toArray(Float.self)
}

/// The recipe fixtures' settings (metadata `config`) applied with the command's own flag parser.
func recipeFlags(_ meta: [String: String]) throws -> [String] {
    let c = try JSONSerialization.jsonObject(with: Data(meta["config"]!.utf8)) as! [String: Any]
    return c.sorted { $0.key < $1.key }.flatMap { k, v in ["--\(k)", "\(v)"] }
}

/// Per-step relative difference of two loss curves.
func worstRelative(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).map { abs($0 - $1) / max(abs($1), 1e-12) }.max() ?? .infinity
}

/// 20 optimizer steps of stmae's pre-training and fine-tuning against reference/recipe_ref.py (mae_st's lr rules,
/// weight-decay groups, schedule, accumulation, clipping and fine-tuning load), same weights, data and masks.
struct RecipeParityTests {
    struct Feed: ClipFeed {
        let clips: Int
        var batchesPerEpoch: Int { 10 }
        func batches(epoch: Int, startBatch: Int) -> FeedIterator {
            FeedIterator(
                (startBatch ..< 10).lazy.map { i in
                    ClipBatch(
                        data: try! recipeBatch(epoch * 10 + i, clips: clips), shape: [clips, 3, 4, 8, 8], index: i)
                })
        }
    }

    struct Labeled: ClipFeed {
        let clips: Int, labels: [[Int]]
        var batchesPerEpoch: Int { 10 }
        func batches(epoch: Int, startBatch: Int) -> FeedIterator {
            FeedIterator(
                (startBatch ..< 10).lazy.map { i in
                    let b = epoch * 10 + i
                    return ClipBatch(
                        data: try! recipeBatch(b, clips: clips), shape: [clips, 3, 4, 8, 8], index: i,
                        labels: labels[b], sampleIndices: Array(0 ..< clips))
                })
        }
    }

    func stepLRs(_ dir: String) throws -> [Double] {
        try String(contentsOfFile: dir + "/log.jsonl", encoding: .utf8).split(separator: "\n").compactMap {
            let o = try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            return o["type"] as? String == "step" ? o["lr"] as? Double : nil
        }
    }

    @Test func pretrainMatchesMaeStRecipe() throws {
        let (t, meta) = try TensorFile.loadOrdered(fixturePath("recipe_pretrain.safetensors", in: .module))
        let f = Dictionary(uniqueKeysWithValues: t)
        let tmp = try TempDir("recipe-pt"), dir = tmp.path
        var c = try PretrainConfig.flags.parse(recipeFlags(meta), onto: PretrainConfig())
        c.outputDir = dir; c.logEvery = 1000; c.checkpointPeriod = 100
        let trainer = try Pretrainer(c)
        // mae_st `add_weight_decay`: positions, cls and mask tokens are decayed
        let decayed = try JSONSerialization.jsonObject(with: Data(meta["decayed"]!.utf8)) as! [String]
        let mine = trainer.optimizer.groups.filter { $0.weightDecay > 0 }.flatMap(\.names)
        #expect(Set(mine) == Set(decayed), "decayed: stmae \(mine.sorted()) vs mae_st \(decayed.sorted())")
        #expect(
            decayed.contains("pos_embed_spatial") && decayed.contains("mask_token") && decayed.contains("cls_token"))
        // mae_st `main_pretrain`: lr = blr × batch × accum × world / 256 (repeat_aug 2 is not a factor)
        #expect(
            abs(trainer.lr - c.blr * 2 * 2 / 256) < 1e-15 && trainer.lrRule.contains("repeat_aug 2 is not a factor"))

        var params: [String: Tensor] = [:]
        for (k, v) in f where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        try trainer.model.loadStateDict(params)
        let state = try trainer.run(feed: Feed(clips: c.batchSizePerGpu * c.repeatAug))
        let ref = try f["out.loss"]!.toArray(Double.self), refLR = try f["out.lr"]!.toArray(Double.self)
        #expect(state.lossHistory.count == 20)
        let d = worstRelative(state.lossHistory, ref)
        #expect(d < 1e-5, "loss per step: worst relative difference \(d)\nstmae \(state.lossHistory)\nref   \(ref)")
        #expect(worstRelative(try stepLRs(dir), refLR) < 1e-12)
    }

    @Test func finetuneMatchesMaeStRecipe() throws {
        let (t, meta) = try TensorFile.loadOrdered(fixturePath("recipe_finetune.safetensors", in: .module))
        let f = Dictionary(uniqueKeysWithValues: t)
        let tmp = try TempDir("recipe-ft"), dir = tmp.path
        let mae = t.filter { $0.0.hasPrefix("mae.") }.map { (String($0.0.dropFirst(4)), $0.1) }
        try TensorFile.save(mae, to: dir + "/mae.safetensors")
        // the fixture's settings over the defaults, by the JSON keys a checkpoint's settings use
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(FinetuneConfig())) as! [String: Any]
        json.merge(try JSONSerialization.jsonObject(with: Data(meta["config"]!.utf8)) as! [String: Any]) { _, new in new
        }
        var c = try JSONDecoder().decode(FinetuneConfig.self, from: JSONSerialization.data(withJSONObject: json))
        c.finetune = dir + "/mae.safetensors"; c.outputDir = dir; c.logEvery = 1000
        let labels = try JSONSerialization.jsonObject(with: Data(meta["labels"]!.utf8)) as! [[Int]]
        let tuner = try Finetuner(c, numClasses: 3)
        // mae_st `main_finetune`: lr = blr × batch × accum × world × repeat_aug / 256
        #expect(abs(tuner.lr - c.blr * 2 * 2 * 2 / 256) < 1e-15)
        // mae_st's classifier pools into the MAE encoder's `norm` (loaded, not fresh)
        let vit = try #require(tuner.model as? VisionTransformer)
        #expect(vit.fcNorm == nil && vit.norm != nil)
        #expect(try vit.norm!.weight.toArray(Float.self) == f["mae.norm.weight"]!.toArray(Float.self))
        try vit.loadStateDict(["head.weight": f["head.weight"]!, "head.bias": f["head.bias"]!], strict: false)
        let state = try tuner.run(train: Labeled(clips: c.batchSize * c.repeatAug, labels: labels), val: [])
        let ref = try f["out.loss"]!.toArray(Double.self), refLR = try f["out.lr"]!.toArray(Double.self)
        #expect(state.lossHistory.count == 20)
        let d = worstRelative(state.lossHistory, ref)
        #expect(d < 1e-5, "loss per step: worst relative difference \(d)\nstmae \(state.lossHistory)\nref   \(ref)")
        #expect(worstRelative(try stepLRs(dir), refLR) < 1e-12)
    }
}
