import Foundation
import Testing
import Media
import Models
import Torch
@testable import Training

/// Attention overlays: colour semantics of the heat map, PNG strip / GIF output of a tiny TimeSformer's map, errors.
struct AttentionVizTests {
    func tempPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("stmae-attn-\(UUID().uuidString)-\(name)").path
    }

    @Test func hotCellIsRedColdCellIsBlue() throws {
        let grey = Image(width: 32, height: 32, pixels: [UInt8](repeating: 128, count: 32 * 32 * 3))
        var map = [Float](repeating: 0, count: 16)
        map[0] = 1  // top-left cell of a 4×4 grid
        let o = try grey.overlaying(map: map, gridH: 4, gridW: 4, alpha: 1)
        let px = { (x: Int, y: Int) in Array(o.pixels[((y * 32 + x) * 3) ..< ((y * 32 + x) * 3 + 3)]) }
        #expect(px(4, 4)[0] > 200 && px(4, 4)[2] < 50)  // centre of the hot cell: red
        #expect(px(28, 28)[2] > 100 && px(28, 28)[0] < 50)  // far corner: blue
        #expect(try grey.overlaying(map: map, gridH: 4, gridW: 4, alpha: 0) == grey)
        #expect(throws: MediaError.self) { try grey.overlaying(map: map, gridH: 3, gridW: 4) }
    }

    @Test func timesformerAttentionToPNGAndGIF() throws {
        var c = TimeSformerConfig()
        (c.imgSize, c.patchSize, c.embedDim, c.depth, c.numHeads, c.numFrames, c.numClasses) = (32, 8, 32, 2, 2, 4, 3)
        let model = try TimeSformer(c, generator: Generator(seed: 2))
        var px = [UInt8](repeating: 0, count: 4 * 32 * 32 * 3)
        for i in px.indices { px[i] = UInt8((i * 7 + i / 96) % 256) }
        let clip = VideoClip(frames: 4, height: 32, width: 32, pixels: px)
        let x = try (Tensor(px.map { Float($0) / 255 }, shape: [1, 4, 32, 32, 3])).permute(0, 4, 1, 2, 3).contiguous()
        let map = try FamilyRegistry.attentionMap(model, x)
        #expect(map.shape == [1, 4, 16])
        // softmax rows over cls + 16 patch keys: the patch part of each frame's cls row is in (0, 1)
        let sums = try map.sum(dims: [2]).toArray(Float.self)
        #expect(sums.allSatisfy { $0 > 0 && $0 < 1 }, "\(sums)")
        let png = tempPath("a.png"), gif = tempPath("a.gif")
        defer { try? FileManager.default.removeItem(atPath: png); try? FileManager.default.removeItem(atPath: gif) }
        try saveAttentionOverlay(clip: clip, map: map.select(dim: 0, index: 0), path: png)
        let strip = try Image.load(path: png)
        #expect(strip.width == 4 * 32 && strip.height == 32)
        try saveAttentionOverlay(clip: clip, map: map.select(dim: 0, index: 0), path: gif)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: gif)).prefix(6)) == Array("GIF89a".utf8))
        #expect {
            try saveAttentionOverlay(clip: clip, map: map.select(dim: 0, index: 0), path: tempPath("a.jpg"))
        } throws: { "\($0)".contains(".png or .gif") }
        #expect(throws: MediaError.self) { try saveAttentionOverlay(clip: clip, map: Tensor.zeros([3, 16]), path: png) }
    }
}
