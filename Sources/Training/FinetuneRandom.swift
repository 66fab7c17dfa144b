import Datasets
import NN
import Torch

/// Where every random draw of a fine-tuning run comes from, all keyed by its `--seed` (as pre-training's):
/// - clip sampling and augmentation (crop, flip, RandAugment, random erasing): `VideoLoader`, per clip from
///   (seed, epoch, global sample slot, repeat), so neither the rank's worker threads nor their timing matter;
/// - model init and a fresh head: one generator seeded by `seed` (`Finetuner.init`);
/// - drop path and dropout of batch b of epoch e on rank r: a generator seeded from (seed, r, e, b), set on the
///   model's `DropPath` / `Dropout` modules before its forward;
/// - mixup / cutmix of that batch: a `SampleRNG` keyed by (seed, e, b) (and r on ranks > 0).
/// Every per-batch stream follows from the (epoch, batch) a checkpoint records, so `--resume` continues the run
/// exactly, and no draw goes to libtorch's process-wide default generator (other runs in the process cannot move it).
public enum FinetuneRandom {
    static func key(_ v: Int) -> UInt64 { UInt64(bitPattern: Int64(v)) }

    /// Drop path / dropout of batch `batch` of `epoch` on `rank`.
    public static func generator(seed: Int, rank: Int, epoch: Int, batch: Int) throws -> Generator {
        var rng = SampleRNG(keys: [key(seed), key(rank), key(epoch), key(batch), 0x4452_4F50])  // "DROP"
        return try Generator(seed: rng.next())
    }

    /// Mixup / cutmix decisions of batch `batch` of `epoch` on `rank`.
    public static func mixup(seed: Int, rank: Int, epoch: Int, batch: Int) -> SampleRNG {
        SampleRNG(keys: [key(seed), key(epoch), key(batch), 0x4D49_5855] + (rank == 0 ? [] : [key(rank)]))  // "MIXU"
    }
}

/// The `DropPath` and `Dropout` modules of a model, found once; `draw(from:)` points them all at one generator.
public struct StochasticModules {
    let dropPaths: [DropPath]
    let dropouts: [Dropout]

    public init(_ model: Module) {
        let modules = model.namedModules().map(\.1)
        dropPaths = modules.compactMap { $0 as? DropPath }.filter { $0.p > 0 }
        dropouts = modules.compactMap { $0 as? Dropout }.filter { $0.p > 0 }
    }

    public var isEmpty: Bool { dropPaths.isEmpty && dropouts.isEmpty }

    /// The next forwards' drop path and dropout masks come from `generator`.
    public func draw(from generator: Generator) {
        for m in dropPaths { m.generator = generator }
        for m in dropouts { m.generator = generator }
    }
}
