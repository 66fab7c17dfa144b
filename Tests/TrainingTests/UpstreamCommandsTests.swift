import Foundation
import Testing
import TestSupport
import Datasets
@testable import Training

/// The upstream README command lines run verbatim (issue 24 item 10): optimized-stmae's `pretrain.py`, `finetune.py`,
/// `finetune_on_image.py` and mae_st's PRETRAIN.md / FINETUNE.md lines parse onto stmae's settings with their meaning.
struct UpstreamCommandsTests {
    static func words(_ line: String) -> [String] {
        line.split(separator: " ").map { $0 == "\"\"" ? "" : String($0).replacingOccurrences(of: "'", with: "") }
    }

    @Test func optimizedSTMAEPretrain() throws {
        let c = try PretrainConfig.flags.parse(
            Self.words(
                """
                --data_dirs DATA_DIRS --datafile_dir DATAFILE_DIR --save_prefix INFORMATIVE_SAVE_PREFIX \
                --output_dir OUTPUT_DIR \
                --model 'mae_vit_huge_patch14' --batch_size_per_gpu 1 --accum_iter 1 --epochs 100000 --num_frames 16 \
                --img_size 224 --decoder_embed_dim 512 --decoder_depth 4 --pin_mem --t_patch_size 2 --repeat_aug 16 \
                --sampling_rate 8 --lr 0.0001 --weight_decay 0.05 --mask_ratio 0.9 --pred_t_dim 16 --clip_grad 0.1
                """), onto: PretrainConfig())
        try c.validate()
        #expect(
            c.dataDirs == ["DATA_DIRS"] && c.datafileDir == "DATAFILE_DIR" && c.savePrefix == "INFORMATIVE_SAVE_PREFIX")
        #expect(c.model == "mae_vit_huge_patch14" && c.imgSize == 224 && c.numFrames == 16 && c.repeatAug == 16)
        #expect(c.decoderEmbedDim == 512 && c.decoderDepth == 4 && c.pinMem && c.lr == 1e-4 && c.predTDim == 16)
        #expect(c.learningRate(worldSize: 1).lr == 1e-4)  // --lr given: no blr rule
    }

    @Test func optimizedSTMAEFinetuneOnVideosAndImages() throws {
        let common = """
            --save_prefix P --output_dir OUTPUT_DIR --finetune "" --num_classes 174 --model 'vit_huge_patch14' \
            --batch_size_per_gpu 4 --accum_iter 1 --epochs 100000 --num_frames 16 --input_size 224 --pin_mem \
            --t_patch_size 2 --blr 0.0024 --clip_grad 5.0 --mixup 0 --cutmix 0.0
            """
        let video = try FinetuneConfig.flags.parse(
            Self.words(
                """
                --train_dir TRAIN_DIR --val_dir VAL_DIR --datafile_dir DATAFILE_DIR \(common) \
                --repeat_aug 1 --sampling_rate 8
                """), onto: FinetuneConfig())
        try video.validate()
        #expect(video.trainDir == "TRAIN_DIR" && video.valDir == "VAL_DIR" && video.datafileDir == "DATAFILE_DIR")
        #expect(video.batchSize == 4 && video.imgSize == 224 && video.finetune == "" && video.numClasses == 174)
        #expect(
            video.savePrefix == "P" && video.pinMem && video.clipGrad == 5 && video.mixup == 0
                && video.samplingRate == 8)
        let image = try FinetuneConfig.flags.parse(
            Self.words(
                """
                --train_data_path TRAIN_DATA_PATH --val_data_path VAL_TRAIN_DATA_PATH \(common)
                """), onto: FinetuneConfig())
        try image.validate()
        #expect(image.trainDir == "TRAIN_DATA_PATH" && image.valDir == "VAL_TRAIN_DATA_PATH" && image.blr == 0.0024)
    }

    @Test func maeSTPretrain() throws {
        var base = PretrainConfig()
        base.bf16 = true
        let c = try PretrainConfig.flags.parse(
            Self.words(
                """
                --path_to_data_dir K --batch_size 2 --model mae_vit_large_patch16 --no_env --epochs 100 --distributed \
                --num_frames 16 --decoder_embed_dim 512 --decoder_depth 4 --pin_mem --num_workers 14 --t_patch_size 2 \
                --repeat_aug 4 --sampling_rate 4 --norm_pix_loss --blr 1.6e-3 --warmup_epochs 5 --mask_ratio 0.9 \
                --pred_t_dim 8 --clip_grad 0.02 --log_dir L --fp32
                """), onto: base)
        try c.validate()
        #expect(
            c.pathToDataDir == "K" && c.dataDirs.isEmpty && c.batchSizePerGpu == 2 && c.distributed && c.normPixLoss)
        #expect(c.numWorkers == 14 && c.logDir == "L" && c.logDirectory == "L" && !c.bf16)
        let peak: Double = 1.6e-3 * 2 / 256
        #expect(c.learningRate(worldSize: 1).lr == peak)  // mae_st pre-training: repeat_aug not a factor
        var both = c
        both.dataDirs = ["D"]
        #expect { try both.validate() } throws: {
            "\($0)".contains("--path_to_data_dir") && "\($0)".contains("not both")
        }
        #expect { try PretrainConfig.flags.parse(["--no_env", "1"], onto: base) } throws: {
            "\($0)".contains("--no_env takes no value")
        }
    }

    @Test func maeSTFinetune() throws {
        var base = FinetuneConfig()
        base.bf16 = true
        let c = try FinetuneConfig.flags.parse(
            Self.words(
                """
                --path_to_data_dir KINETICS_DIR --rand_aug --epochs 50 --repeat_aug 2 --model vit_large_patch16 \
                --batch_size 2 \
                --distributed --dist_eval --smoothing 0.1 --mixup 0.8 --cutmix 1.0 --mixup_prob 1.0 --blr 0.0024 \
                --num_frames 16 --sampling_rate 4 --dropout 0.3 --warmup_epochs 5 --layer_decay 0.75 \
                --drop_path_rate 0.2 \
                --aa rand-m7-mstd0.5-inc1 --clip_grad 5.0 --fp32 --no_env --log_dir L
                """), onto: base)
        try c.validate()
        #expect(
            c.pathToDataDir == "KINETICS_DIR" && c.randAug && c.aa == "rand-m7-mstd0.5-inc1" && c.distributed
                && c.distEval)
        #expect(!c.bf16 && c.logDirectory == "L" && c.reprob == 0.25 && c.repeatAug == 2)
        let peak: Double = 0.0024 * 2 * 2 / 256
        #expect(c.learningRate(worldSize: 1).lr == peak)  // mae_st fine-tuning counts repeat_aug
        // mae_st Kinetics.__getitem__: RandAugment and random erasing (`_aug_frame`) only with --rand_aug
        let on = try c.clipConfig(train: true)
        #expect(on.randAugment != nil && on.reprob == 0.25)
        var off = c
        off.randAug = false
        let plain = try off.clipConfig(train: true)
        #expect(plain.randAugment == nil && plain.reprob == 0)
        #expect(try c.clipConfig(train: false).randAugment == nil)
    }

    /// stmae's older `--rand_aug POLICY` spelling and checkpoints that saved the policy under `rand_aug` still work.
    @Test func randAugOlderSpellingAndCheckpoints() throws {
        let flags = FinetuneConfig.flags
        let old = try flags.parse(["--rand_aug", "rand-m9-mstd0.5-inc1"], onto: FinetuneConfig())
        #expect(old.randAug && old.aa == "rand-m9-mstd0.5-inc1")
        #expect(try !flags.parse(["--rand_aug", ""], onto: old).randAug)
        #expect(try !flags.parse(["--no_rand_aug"], onto: old).randAug)
        #expect(try flags.parse(["--rand_aug", "true"], onto: FinetuneConfig()).randAug)

        for (saved, on, aa) in [
            ("rand-m9-n2-mstd0.5-inc1", true, "rand-m9-n2-mstd0.5-inc1"), ("", false, FinetuneConfig().aa)
        ] {
            var legacy = jsonObject(FinetuneConfig())
            legacy["rand_aug"] = saved
            legacy.removeValue(forKey: "aa")
            // as `Checkpoint.loadSidecar` reads a sidecar's settings
            let current = FinetuneCheckpointState.currentSettings(legacy)
            let loaded = try JSONDecoder().decode(
                FinetuneConfig.self, from: JSONSerialization.data(withJSONObject: current))
            #expect(loaded.randAug == on && loaded.aa == aa)
        }
    }

    /// `--path_to_data_dir DIR`: mae_st's `DIR/train.csv` (and `DIR/val.csv`) lists, `path label` per line.
    @Test func pathToDataDirReadsMaeSTLists() throws {
        let tmp = try TempDir("kinetics"), dir = tmp.path
        var p = PretrainConfig()
        p.pathToDataDir = dir
        #expect { try pretrainSamples(p) } throws: {
            "\($0)".contains("--path_to_data_dir") && "\($0)".contains("train.csv")
        }
        try "/v/a.mp4 3\n/v/b.mp4 5\n".write(toFile: dir + "/train.csv", atomically: true, encoding: .utf8)
        let s = try pretrainSamples(p)
        #expect(s.map(\.path) == ["/v/a.mp4", "/v/b.mp4"] && s.map(\.label) == [3, 5])

        var f = FinetuneConfig()
        f.pathToDataDir = dir
        #expect(try f.dataSources() == (dir + "/train.csv", ""))
        try "/v/c.mp4 1\n".write(toFile: dir + "/val.csv", atomically: true, encoding: .utf8)
        #expect(try f.dataSources() == (dir + "/train.csv", dir + "/val.csv"))
        f.trainDir = "T"
        #expect { try f.dataSources() } throws: { "\($0)".contains("not both") }
    }

    /// Fine-tuning writes the lists it reads (optimized-stmae `finetune.py`: `DATAFILE_DIR/{train,val}.csv`).
    @Test func finetuneWritesItsListsToDatafileDir() throws {
        let tmp = try TempDir("datafiles"), dir = tmp.path
        var c = FinetuneConfig()
        c.datafileDir = dir + "/lists"
        c.outputDir = dir + "/out"
        let data = try FinetuneData(c)
        let train = try VideoList.readCSV(path: dir + "/lists/train.csv")
        let val = try VideoList.readCSV(path: dir + "/lists/val.csv")
        #expect(train.count == data.trainCount && val.count == data.valCount && train.count > 0 && val.count > 0)
    }

    /// `--log_dir`: log.jsonl and the loss curve go there; checkpoints stay in `--output_dir`.
    @Test func logDirHoldsTheLogs() throws {
        let tmp = try TempDir("logdir"), out = tmp.sub("out"), logs = tmp.sub("logs")
        var c = tinyConfig(out)
        c.logDir = logs; c.epochs = 1
        _ = try Pretrainer(c).run(feed: RandomFeed(batchesPerEpoch: 2, shape: [2, 3, 4, 32, 32]))
        let inLogs = try FileManager.default.contentsOfDirectory(atPath: logs)
        let inOut = try FileManager.default.contentsOfDirectory(atPath: out)
        #expect(inLogs.contains("log.jsonl") && inLogs.contains("loss_curve.png"))
        #expect(!inOut.contains("log.jsonl") && inOut.contains("checkpoint-00000.json"))
    }

    /// mae_st's `--distributed` needs a launcher; fine-tuning says so instead of training one process as if it were
    /// many.
    @Test func finetuneDistributedNeedsALauncher() throws {
        let r = try runSTMAE(["finetune", "--distributed", "--max_steps", "1", "--output_dir", try TempDir("dist").path]
        )
        #expect(r.status != 0 && r.stderr.contains("--distributed: no launcher environment"), "\(r.stderr)")
    }

    /// The same check, in one place (`launchedGroup`), for pre-training and evaluation (the latter ignored the flag
    /// before); the message names the command to launch.
    @Test func pretrainAndEvaluateDistributedNeedALauncher() throws {
        let out = try TempDir("dist-pe").path
        let pre = try runSTMAE(["pretrain", "--distributed", "--max_steps", "1", "--output_dir", out])
        #expect(pre.status != 0 && pre.stderr.contains("-- pretrain …"), "\(pre.stderr)")
        let checkpoint = fixturePath("legacy", in: .module) + "/finetune/checkpoint-last.json"
        let eval = try runSTMAE(["evaluate", "--resume", checkpoint, "--distributed", "--output_dir", out])
        #expect(
            eval.status != 0 && eval.stderr.contains("--distributed: no launcher environment")
                && eval.stderr.contains("-- evaluate …"), "\(eval.stderr)")
    }
}
