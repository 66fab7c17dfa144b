import ArgumentParser
import Distributed
import Foundation
import Models
import Training

/// `stmae pretrain`: MAE-ST pre-training (mae_st `main_pretrain.py` / optimized-stmae `pretrain.py` flags).
struct PretrainCommand: ParsableCommand {
    static let flags = ConfigFlags(PretrainConfig(), aliases: [
        "batch_size": "batch_size_per_gpu", "path_to_data_dir": "data_dirs", "data_dir": "data_dirs",
        "num_checkpoint_keep": "num_checkpoint_del",
    ])
    static let notes = [
        "data_dirs": "folders searched recursively for .mp4/.mkv/.webm/.avi; none = built-in synthetic videos",
        "model": ModelCatalog.helpText(kind: .pretrainer) + "; MaskFeat: HOG targets, cube masking",
        "mask_ratio": "0 = the model's (MAE 0.9, MaskFeat 0.4)",
        "init_from": "MaskFeat: start from an image ViT (timm/HF safetensors, centre-frame inflation) or a video MAE encoder (mae_st/VideoMAE)", "embed_dim": "0 = the model's (also depth, num_heads)",
        "mask_type": "random (mae_st) | tube (VideoMAE) | temporal (optimized-stmae: first int(L·(1−r)) tokens visible, the future masked) | boundary (optimized-stmae: tokens at both clip ends visible, the middle masked) | time_slice (random whole time slices) | window (one random visible window of time slices)",
        "decoder_mask_ratio": "dual masking (VideoMAE V2, random over the masked tokens): the decoder sees the visible tokens and 1 − this share of the masked ones; loss on those",
        "lr": "0 = blr × batch_size_per_gpu × accum_iter × world_size / 256 (mae_st pre-training: repeat_aug is not a factor)",
        "weight_decay": "mae_st add_weight_decay: every parameter with > 1 dimension not ending in .bias, positions, cls_token and mask_token included",
        "bias_wd": "also decay 1-D weights (norms); .bias never (mae_st --bias_wd)",
        "no_wd_pos_embed": "exempt pos_embed*, cls_token and mask_token from weight decay (MaskFeat models always do)",
        "sep_pos_embed": "true: learned pos_embed_spatial + pos_embed_temporal; false (--no_sep_pos_embed): one learned joint pos_embed (mae_st)",
        "sincos_pos_embed": "fixed VideoMAE 1-D sinusoid positions, not stored (overrides sep_pos_embed)",
        "pred_t_dim": "0 = num_frames", "short_side": "0 = img_size × 256/224", "clip_grad": "0 = off",
        "num_checkpoint_del": "keep the last N epoch checkpoints (0 = all)", "max_steps": "stop after N steps (0 = no limit)",
        "threads": "0 = libtorch default", "resume": "a checkpoint .json or .safetensors",
        "distributed": "require a launcher environment (data parallel runs whenever one is set); also --dist_timeout SECONDS (1800)",
    ]
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Pre-train a video MAE (MAE-ST) by masked reconstruction, or MaskFeat by HOG prediction.",
        discussion: "Flags (mae_st / optimized-stmae spellings) and defaults:\n" + flags.usage(notes: notes),
        helpNames: [])

    @Argument(parsing: .captureForPassthrough, help: "--flag value … (see the list below)")
    var arguments: [String] = []

    func run() throws {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(Self.helpMessage())
            return
        }
        let (distTimeout, flagArgs) = try takeDistTimeout(arguments)
        let config: PretrainConfig
        do { config = try Self.flags.parse(flagArgs) } catch { throw ValidationError("\(error)") }
        installStopHandlers()
        // Data parallel when launched by `stmae launch`, torchrun or Slurm; rank 0 prepares the video list first.
        let pg = try ProcessGroup.fromEnvironment(timeout: distTimeout)
        if config.distributed && pg == nil {
            throw ValidationError("--distributed: no launcher environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT or SLURM_*); "
                + "start with `stmae launch --nproc_per_node N -- pretrain …`")
        }
        if let pg, !pg.isMain { try pg.barrier() }
        let samples = try pretrainSamples(config)
        if let pg, pg.isMain { try pg.barrier() }
        let feed = try VideoFeed(config, samples: samples, rank: pg?.rank ?? 0, worldSize: pg?.worldSize ?? 1)
        RunLog.info("data: \(samples.count) videos (\(config.dataDirs.isEmpty ? "built-in synthetic set" : config.dataDirs.joined(separator: " "))), "
            + "\(feed.batchesPerEpoch) batches of \(config.batchSizePerGpu)×\(config.repeatAug) clips per epoch")
        let trainer = try Pretrainer(config, worldSize: pg?.worldSize ?? 1, rank: pg?.rank ?? 0)
        if let pg { try attachDataParallel(trainer, group: pg) }
        let state = try trainer.run(feed: feed)
        let failed = feed.failures
        if !failed.isEmpty {
            RunLog.info("skipped \(failed.count) unreadable video(s):")
            for f in failed.prefix(20) { RunLog.info("  \(f.path): \(f.reason)") }
        }
        RunLog.info("done: \(state.step) steps; outputs in \(config.outputDir) (log.jsonl, loss_curve.png, checkpoints)")
    }
}
