import Foundation
import Media
import Models
import Testing
import TestSupport
import Torch
@testable import Training

/// `stmae visualize --attention` end to end on a synthetic video: an image-ViT-initialised TimeSformer and a ViViT,
/// PNG and GIF outputs, and its error messages.
struct AttentionCLITests {
    @Test func visualizeAttention() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stmae-attn-cli-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let video = dir + "/clip.mp4"
        try SyntheticVideos.render(shape: 1, motion: 2, seed: 3, frames: 16, size: 96).saveVideo(path: video, fps: 8)
        // an image ViT in timm keys with timesformer_tiny's sizes (D 192, 4 blocks, 3 heads, patch 16, img 64)
        let donor = try TimeSformer(
            TimeSformerConfig().updating([
                "img_size": 64, "embed_dim": 192, "depth": 4, "num_heads": 3,
                "num_classes": 10, "attention_type": "space_only"
            ]))
        let image = dir + "/vit.safetensors"
        try TensorFile.save(donor.namedTensors().map { ("model." + $0.0, $0.1) }, to: image)

        let png = dir + "/ts.png"
        var r = try runSTMAE(
            [
                "visualize", "--attention", "--model", "timesformer_tiny", "--image_init", image, "--video", video,
                "--output", png
            ], timeout: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let strip = try Image.load(path: png)
        #expect(strip.width == 8 * 64 && strip.height == 64)  // 8 frames side by side
        let gif = dir + "/vv.gif"
        r = try runSTMAE(
            ["visualize", "--attention", "--model", "vivit_tiny_fe", "--video", video, "--output", gif], timeout: 120)
        #expect(r.status == 0 && FileManager.default.fileExists(atPath: gif), "\(r.stderr)")

        for (args, message) in [
            (["--model", "maskfeat_vit_tiny"], "attention maps need one of"),
            (["--model", "timesformer_tiny", "--image_init", video], video),
            (["--model", "timesformer_tiny", "--output", dir + "/x.jpg"], ".png or .gif")
        ] {
            let e = try runSTMAE(
                ["visualize", "--attention", "--video", video, "--output", dir + "/o.png"] + args, timeout: 120)
            #expect(e.status != 0 && e.stderr.contains(message), "\(args): \(e.stderr)")
        }
    }
}
