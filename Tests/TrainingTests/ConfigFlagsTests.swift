import Foundation
import Testing
@testable import Training

struct ConfigFlagsTests {
    let flags = PretrainConfig.flags

    @Test func everyKindOfFlag() throws {
        let c = try flags.parse(
            [
                "--model", "mae_vit_base_patch16", "--batch_size", "3", "--blr=2.5e-4", "--norm_pix_loss",
                "--no_cls_embed", "--bf16", "false", "--data_dirs", "/a", "/b", "--jitter_scales_relative", "0.3", "1",
                "--mask-type", "tube", "--mean", "0.5", "0.5", "0.5"
            ], onto: PretrainConfig())
        #expect(c.model == "mae_vit_base_patch16" && c.batchSizePerGpu == 3 && c.blr == 2.5e-4)
        #expect(c.normPixLoss && !c.clsEmbed && !c.bf16 && c.sepPosEmbed)
        #expect(c.dataDirs == ["/a", "/b"] && c.jitterScalesRelative == [0.3, 1.0] && c.maskType == "tube")
        #expect(c.mean == [0.5, 0.5, 0.5])
        var expected = PretrainConfig()
        expected.epochs = 7
        #expect(
            try flags.parse(["--epochs", "7"], onto: PretrainConfig()) == expected,
            "untouched settings keep their defaults")
    }

    @Test func errorsNameTheFlag() {
        let cases: [([String], String)] = [
            (["--epochs", "x"], "--epochs expects an integer, got 'x'"),
            (["--epoch", "3"], "--epoch: unknown flag (did you mean --epochs?)"),
            (["--blr"], "--blr expects one value, got 0"),
            (["--bf16", "maybe"], "--bf16 expects true or false"),
            (["--no_cls_embed", "1"], "--no_cls_embed takes no value"),
            (["--mean", "a", "b"], "--mean expects numbers"),
            (["epochs"], "unexpected argument 'epochs'")
        ]
        for (args, message) in cases {
            #expect { try flags.parse(args, onto: PretrainConfig()) } throws: { "\($0)".contains(message) }
        }
    }

    @Test func usageListsEveryFlagWithItsDefault() {
        let text = flags.usage(defaults: PretrainConfig())
        #expect(
            text.contains("--batch_size_per_gpu 4") && text.contains("--mask_type random  — random (mae_st) | tube"))
        #expect(text.split(separator: "\n").count == flags.fields.count)
    }

    /// One flag per setting: every JSON key of the settings (what a checkpoint stores) is a flag of its command,
    /// but for the ones a subcommand fixes.
    @Test func everySettingIsAFlag() throws {
        func keys<C: Encodable>(_ c: C) throws -> Set<String> {
            Set((try JSONSerialization.jsonObject(with: JSONEncoder().encode(c)) as! [String: Any]).keys)
        }
        let pretrain = Set(PretrainConfig.flags.fields.map(\.name)),
            finetune = Set(FinetuneConfig.flags.fields.map(\.name))
        let unflagged = try keys(PretrainConfig()).subtracting(pretrain)
        #expect(unflagged.isEmpty, "\(unflagged)")
        let missing = try keys(FinetuneConfig()).subtracting(finetune).subtracting(FinetuneConfig.fixedBySubcommand)
        #expect(missing.isEmpty, "\(missing)")
    }

    /// The fine-tuning flags write typed values onto any base (a subcommand's defaults, a checkpoint's settings).
    @Test func finetuneFlagsApplyOntoABase() throws {
        var base = FinetuneConfig()
        base.blr = 0.1; base.numFrames = 16
        let (c, given) = try FinetuneConfig.flags.parseNamingGiven(
            [
                "--cls_token", "--eval", "--input_size", "96", "--seed", "-1", "--no_sep_pos_embed", "--mean", "0.5",
                "0.4", "0.3"
            ], onto: base)
        #expect(
            !c.globalPool && c.evalOnly && c.imgSize == 96 && c.seed == -1 && !c.sepPosEmbed
                && c.mean == [0.5, 0.4, 0.3])
        #expect(c.blr == 0.1 && c.numFrames == 16, "settings not given keep the base's")
        #expect(given == ["cls_token", "eval", "img_size", "seed", "sep_pos_embed", "mean"])
        #expect { try FinetuneConfig.flags.parse(["--cls_token", "yes"], onto: base) } throws: {
            "\($0)".contains("--cls_token takes no value")
        }
    }

    /// Every numeric setting is checked against its flag's range before any work, and the error names the flag
    /// (these crashed with SIGILL or trained silently before).
    @Test func valuesOutOfRangeNameTheFlag() throws {
        let pretrain: [([String], String)] = [
            (["--seed", "-1"], "--seed must be ≥ 0, got -1"),
            (
                ["--jitter_scales_relative", "1.0", "0.5"],
                "--jitter_scales_relative must be two values lo hi with 0 < lo ≤ hi"
            ),
            (["--blr", "-1"], "--blr must be ≥ 0.0, got -1.0"), (["--lr", "-0.1"], "--lr must be ≥ 0.0"),
            (["--warmup_epochs", "-1"], "--warmup_epochs"), (["--clip_grad", "-1"], "--clip_grad"),
            (["--threads", "-1"], "--threads"),
            (["--checkpoint_period", "0"], "--checkpoint_period must be > 0"), (["--beta2", "1"], "--beta2"),
            (["--blr", "0"], "--blr must be > 0 (or give --lr)"), (["--std", "0.2", "0", "0.2"], "--std")
        ]
        for (args, message) in pretrain {
            #expect { try PretrainConfig.flags.parse(args, onto: PretrainConfig()).validate() } throws: {
                "\($0)".contains(message)
            }
        }
        let finetune: [([String], String)] = [
            (["--seed", "-3"], "--seed"), (["--num_spatial_crops", "2"], "--num_spatial_crops must be 1 or 3, got 2"),
            (["--flip_prob", "2"], "--flip_prob must be -1 or in [0, 1]"),
            (["--layer_decay", "0"], "--layer_decay must be in (0.0, 1.0]")
        ]
        for (args, message) in finetune {
            #expect { try FinetuneConfig.flags.parse(args, onto: FinetuneConfig()).validate() } throws: {
                "\($0)".contains(message)
            }
        }
        #expect { try FinetuneConfig.flags.parse(["--lr", "nan"], onto: FinetuneConfig()) } throws: {
            "\($0)".contains("--lr expects a number")
        }
        try PretrainConfig().validate()
        try FinetuneConfig().validate()
    }
}
