import Foundation
import Testing
@testable import Training

struct ConfigFlagsTests {
    let flags = ConfigFlags(PretrainConfig(), aliases: ["batch_size": "batch_size_per_gpu"])

    @Test func everyKindOfFlag() throws {
        let c = try flags.parse(["--model", "mae_vit_base_patch16", "--batch_size", "3", "--blr=2.5e-4", "--norm_pix_loss",
                                 "--no_cls_embed", "--bf16", "false", "--data_dirs", "/a", "/b", "--jitter_scales_relative", "0.3", "1",
                                 "--mask-type", "tube", "--mean", "0.5", "0.5", "0.5"])
        #expect(c.model == "mae_vit_base_patch16" && c.batchSizePerGpu == 3 && c.blr == 2.5e-4)
        #expect(c.normPixLoss && !c.clsEmbed && !c.bf16 && c.sepPosEmbed)
        #expect(c.dataDirs == ["/a", "/b"] && c.jitterScalesRelative == [0.3, 1.0] && c.maskType == "tube")
        #expect(c.mean == [0.5, 0.5, 0.5])
        var expected = PretrainConfig()
        expected.epochs = 7
        #expect(try flags.parse(["--epochs", "7"]) == expected, "untouched settings keep their defaults")
    }

    @Test func errorsNameTheFlag() {
        let cases: [([String], String)] = [
            (["--epochs", "x"], "--epochs expects an integer, got 'x'"),
            (["--epoch", "3"], "--epoch: unknown flag (did you mean --epochs?)"),
            (["--blr"], "--blr expects one value, got 0"),
            (["--bf16", "maybe"], "--bf16 expects true or false"),
            (["--no_cls_embed", "1"], "--no_cls_embed takes no value"),
            (["--mean", "a", "b"], "--mean expects numbers"),
            (["epochs"], "unexpected argument 'epochs'"),
        ]
        for (args, message) in cases {
            #expect { try flags.parse(args) } throws: { "\($0)".contains(message) }
        }
    }

    @Test func usageListsEveryFlagWithItsDefault() {
        let text = flags.usage(notes: ["mask_type": "random | tube"])
        #expect(text.contains("--batch_size_per_gpu 4") && text.contains("--mask_type random  — random | tube"))
        #expect(text.split(separator: "\n").count == flags.fields.count)
    }
}
