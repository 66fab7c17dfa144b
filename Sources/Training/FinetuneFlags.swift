import Models

/// The flags of `stmae finetune`, `linprobe`, `finetune-image` and `evaluate`: one line per `FinetuneConfig` setting
/// (the name is its JSON key; mae_st `main_finetune` spellings and their aliases). Defaults are the struct's (or the
/// subcommand's base, or the `--resume` checkpoint's settings for `evaluate`).
extension FinetuneConfig {
    /// Settings no flag sets: the subcommand fixes them (`finetune-image`, `linprobe`).
    public static let fixedBySubcommand: Set<String> = ["images", "linear_probe"]

    public static let flags = ConfigFlags<FinetuneConfig>(
        [
            // data
            .option(
                "train_dir", \.trainDir, "class folders (sorted folder index = label) or a `path, label` list",
                aliases: ["train_data_path"]),
            .option(
                "val_dir", \.valDir, "validation data (same forms); with neither: the built-in synthetic set",
                aliases: ["val_data_path"]),
            .option(
                "datafile_dir", \.datafileDir, "where the train.csv / val.csv lists are written (\"\" = output_dir)"),
            .option(
                "frac_retained", \.fracRetained, .above(0, upTo: 1),
                "few-shot: fraction of training samples kept per class (seeded)")
        ]
            + ConfigFlag.clipSampling(
                shortSide: "training decode short side, and the short side of the single-crop test view "
                    + "(mae_st train_jitter_scales[0]) (0 = img_size·256/224)") + [
                // augmentation
                .option(
                    "flip_prob", \.flipProb, Valid("-1 or in [0, 1]") { $0 == -1 || (0 ... 1).contains($0) },
                    "horizontal flip probability (-1: 0.5, but 0 on the built-in left/right data)"),
                .randAugSwitch,
                .option("aa", \.aa, "RandAugment policy (timm string) used with --rand_aug"),
                .option(
                    "reprob", \.reprob, .within(0 ... 1),
                    "random-erasing probability ('pixel' mode), with --rand_aug as mae_st"),
                .option("mixup", \.mixup, .atLeast(0), "Mixup Beta α (0 = off)"),
                .option("cutmix", \.cutmix, .atLeast(0), "CutMix Beta α (0 = off)"),
                .option("mixup_prob", \.mixupProb, .within(0 ... 1)),
                .option("mixup_switch_prob", \.mixupSwitchProb, .within(0 ... 1)),
                .option("smoothing", \.smoothing, .within(0 ..< 1), "label smoothing"),
                .option("drop_path_rate", \.dropPathRate, .within(0 ..< 1)),
                .option("dropout", \.dropout, .within(0 ..< 1), "head dropout"),
                // model
                .option("model", \.model, ModelCatalog.helpText(kind: .classifier)),
                .option(
                    "num_classes", \.numClasses, .within(0 ... 1_000_000),
                    "0 = number of class folders (at most 100000 inferred from labels)"),
                .option("patch_size", \.patchSize, .atLeast(0), "0 = the model's"),
                .option(
                    "embed_dim", \.embedDim, .atLeast(0), "model size override (0 = the model's; also depth, num_heads)"
                ),
                .option("depth", \.depth, .atLeast(0)),
                .option("num_heads", \.numHeads, .atLeast(0)),
                .option("t_patch_size", \.tPatchSize, .above(0)),
                .option(
                    "global_pool", \.globalPool,
                    "mean over the patch tokens, then the post-pool norm (false: the cls token)"),
                .setting(
                    "cls_token", \.globalPool, to: false,
                    "classify from the cls token (MAE's spelling of --global_pool false)"),
                .option("cls_embed", \.clsEmbed),
                .option(
                    "sep_pos_embed", \.sepPosEmbed,
                    "learned separable positions (true, mae_st default) or one learned joint pos_embed (false)"),
                .option(
                    "sincos_pos_embed", \.sincosPosEmbed,
                    "fixed VideoMAE sinusoid positions (videomae_* models have them)"),
                .option(
                    "finetune", \.finetune,
                    "pre-trained checkpoint (stmae .json/.safetensors, PyTorch .pth, Hugging Face folder); "
                        + "the head is re-initialised"),
                .option(
                    "inflation", \.inflation,
                    "TimeSformer/ViViT from an image ViT (--finetune): patch kernel inflation, centre | average"),
                .option(
                    "temporal_init", \.temporalInit,
                    "TimeSformer/ViViT from an image ViT: temporal attention copy | zero"),
                // optimisation
                .option("batch_size", \.batchSize, .above(0), aliases: ["batch_size_per_gpu"]),
                .option("accum_iter", \.accumIter, .above(0)),
                .option("epochs", \.epochs, .above(0)),
                .option(
                    "lr", \.lr, .atLeast(0),
                    "0 = blr × batch_size × accum_iter × world_size × repeat_aug / 256 (mae_st fine-tuning)"),
                .option("blr", \.blr, .atLeast(0)),
                .option("layer_decay", \.layerDecay, .above(0, upTo: 1)),
                .option("min_lr", \.minLr, .atLeast(0)),
                .option("warmup_epochs", \.warmupEpochs, .atLeast(0)),
                .option("weight_decay", \.weightDecay, .atLeast(0)),
                .option("clip_grad", \.clipGrad, .atLeast(0), "gradient-norm clip (0 = off)")
            ] + ConfigFlag.precision(training: true) + [
                // evaluation / run
                .option("num_temporal_views", \.numTemporalViews, .above(0)),
                .option(
                    "num_spatial_crops", \.numSpatialCrops, Valid("1 or 3") { [1, 3].contains($0) },
                    "1 (centre) or 3 (left/centre/right)"),
                .option("eval", \.evalOnly, "only evaluate (the --resume checkpoint)"),
                .option("output_dir", \.outputDir),
                .option("save_prefix", \.savePrefix, "prefix of checkpoint names"),
                .option("distributed", \.distributed, "require a launcher environment (stmae launch, torchrun, Slurm)"),
                .option(
                    "dist_eval", \.distEval,
                    "mae_st: each rank evaluates a shard of the validation set (one process: all of it)"),
                .option("resume", \.resume, "checkpoint (.json) to resume from"),
                .option("seed", \.seed, .atLeast(0)),
                .option("threads", \.threads, .atLeast(0), "0 = libtorch default"),
                .option("log_every", \.logEvery, .above(0), "steps between progress lines"),
                .option("log_scale", \.logScale, "loss_curve.png with a log-scale loss axis"),
                .option(
                    "max_steps", \.maxSteps, .atLeast(0),
                    "stop after this many optimizer steps (checkpoint-last is written; 0 = no limit)")
            ] + ConfigFlag.run(lists: "train.csv and val.csv"))
}

extension ConfigFlag where Config == FinetuneConfig {
    /// mae_st's `--rand_aug` switch (RandAugment with the `--aa` policy, and random erasing); stmae's older spelling
    /// `--rand_aug POLICY` still works (on, with that policy), `--rand_aug ""` is off.
    static var randAugSwitch: ConfigFlag {
        ConfigFlag(
            name: "rand_aug", aliases: [],
            help: "RandAugment (policy --aa) and random erasing (--reprob), as mae_st; "
                + "--rand_aug POLICY also sets --aa", isBool: true,
            apply: { c, words, flag in
                if words.count == 1, (try? Bool.parse(words, flag: flag)) == nil {
                    c.randAug = !words[0].isEmpty
                    if c.randAug { c.aa = words[0] }
                } else {
                    c.randAug = try Bool.parse(words, flag: flag)
                }
            }, show: { $0.randAug.shown }, check: { _ in nil })
    }
}
