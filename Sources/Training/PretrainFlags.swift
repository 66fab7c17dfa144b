import Models

/// `stmae pretrain`'s flags: one line per `PretrainConfig` setting (the name is its JSON key; mae_st /
/// optimized-stmae spellings and their aliases). Defaults are the struct's.
extension PretrainConfig {
    public static let flags = ConfigFlags<PretrainConfig>(
        [
            // data
            .option(
                "data_dirs", \.dataDirs, "folders searched recursively for videos; none = built-in synthetic videos",
                aliases: ["data_dir"]),
            .option("datafile_dir", \.datafileDir, "where train.csv is written (\"\" = output_dir)"),
            .option("data_frac", \.dataFrac, .above(0, upTo: 1), "fraction of the videos used (seeded)")
        ] + ConfigFlag.clipSampling(shortSide: "0 = img_size × 256/224") + [
            // model
            .option(
                "model", \.model, ModelCatalog.helpText(kind: .pretrainer) + " (MaskFeat: HOG targets, cube masking)"),
            .option("patch_size", \.patchSize, .atLeast(0), "0 = the model's"),
            .option("embed_dim", \.embedDim, .atLeast(0), "0 = the model's (also depth, num_heads)"),
            .option("depth", \.depth, .atLeast(0)),
            .option("num_heads", \.numHeads, .atLeast(0)),
            .option("t_patch_size", \.tPatchSize, .above(0)),
            .option(
                "decoder_embed_dim", \.decoderEmbedDim, .atLeast(0),
                "0 = the model's (also decoder_depth, decoder_num_heads)"),
            .option("decoder_depth", \.decoderDepth, .atLeast(0)),
            .option("decoder_num_heads", \.decoderNumHeads, .atLeast(0)),
            .option("mask_ratio", \.maskRatio, .within(0 ..< 1), "0 = the model's (MAE 0.9, MaskFeat 0.4)"),
            .option(
                "mask_type", \.maskType,
                "random (mae_st) | tube (VideoMAE) | temporal (optimized-stmae: first int(L·(1−r)) tokens "
                    + "visible, the future masked) | boundary (optimized-stmae: tokens at both clip ends visible, "
                    + "the middle masked) | "
                    + "time_slice (random whole time slices) | window (one random visible window of time slices)"),
            .option(
                "decoder_mask_ratio", \.decoderMaskRatio, .within(0 ..< 1),
                "dual masking (VideoMAE V2, random over the masked tokens): the decoder "
                    + "sees the visible tokens and 1 − this share of the masked ones; loss on those"),
            .option("pred_t_dim", \.predTDim, .atLeast(0), "0 = num_frames"),
            .option("norm_pix_loss", \.normPixLoss),
            .option("cls_embed", \.clsEmbed),
            .option(
                "sep_pos_embed", \.sepPosEmbed,
                "true: learned pos_embed_spatial + pos_embed_temporal; false (--no_sep_pos_embed): "
                    + "one learned joint pos_embed (mae_st)"),
            .option(
                "sincos_pos_embed", \.sincosPosEmbed,
                "fixed VideoMAE 1-D sinusoid positions, not stored (overrides sep_pos_embed)"),
            .option("trunc_init", \.truncInit),
            .option(
                "init_from", \.initFrom,
                "MaskFeat: start from an image ViT (timm/HF safetensors, centre-frame inflation) or a "
                    + "video MAE encoder (mae_st/VideoMAE)"),
            // optimisation
            .option("batch_size_per_gpu", \.batchSizePerGpu, .above(0), aliases: ["batch_size"]),
            .option("accum_iter", \.accumIter, .above(0)),
            .option("epochs", \.epochs, .above(0)),
            .option(
                "lr", \.lr, .atLeast(0),
                "0 = blr × batch_size_per_gpu × accum_iter × world_size / 256 "
                    + "(mae_st pre-training: repeat_aug is not a factor)"
            ),
            .option("blr", \.blr, .atLeast(0)),
            .option("min_lr", \.minLr, .atLeast(0)),
            .option("warmup_epochs", \.warmupEpochs, .atLeast(0)),
            .option(
                "weight_decay", \.weightDecay, .atLeast(0),
                "mae_st add_weight_decay: every parameter with > 1 dimension not ending in .bias, "
                    + "positions, cls_token and mask_token included"),
            .option("bias_wd", \.biasWd, "also decay 1-D weights (norms); .bias never (mae_st --bias_wd)"),
            .option(
                "no_wd_pos_embed", \.noWdPosEmbed,
                "exempt pos_embed*, cls_token and mask_token from weight decay (MaskFeat models always do)"),
            .option("beta1", \.beta1, .within(0 ..< 1)),
            .option("beta2", \.beta2, .within(0 ..< 1)),
            .option("clip_grad", \.clipGrad, .atLeast(0), "0 = off")
        ] + ConfigFlag.precision(training: true) + [
            // run
            .option("output_dir", \.outputDir),
            .option("save_prefix", \.savePrefix, "prefix of checkpoint names"),
            .option("resume", \.resume, "a checkpoint .json or .safetensors"),
            .option("seed", \.seed, .atLeast(0)),
            .option("checkpoint_period", \.checkpointPeriod, .above(0), "epochs between checkpoints"),
            .option(
                "num_checkpoint_del", \.numCheckpointDel, .atLeast(0), "keep the last N epoch checkpoints (0 = all)",
                aliases: ["num_checkpoint_keep"]),
            .option("max_steps", \.maxSteps, .atLeast(0), "stop after N steps (0 = no limit)"),
            .option("threads", \.threads, .atLeast(0), "0 = libtorch default"),
            .option("log_every", \.logEvery, .above(0), "steps between progress lines"),
            .option("log_scale", \.logScale, "loss_curve.png with a log-scale loss axis")
        ] + ConfigFlag.run(lists: "train.csv") + [
            .option(
                "distributed", \.distributed,
                "require a launcher environment (data parallel runs whenever one is set); "
                    + "also --dist_timeout SECONDS (1800)")
        ])
}
