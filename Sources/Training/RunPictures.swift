import Datasets
import Foundation
import Media
import Models
import Plot
import Torch

/// The pictures a run draws after each epoch, into the log dir (PNG + SVG) and TensorBoard (`RunLog.image`).
extension Pretrainer {
    /// loss_curve.png; for an MAE also reconstruction.png: the first clip of epoch 0's first batch, masked with a
    /// fixed seed (the same clip and mask every epoch), as original / masked / prediction rows.
    func writePictures(feed: ClipFeed, epoch: Int) {
        let dir = config.logDirectory
        do { try LossCurve.write(state.lossHistory, to: dir + "/loss_curve.png", logScale: config.logScale) } catch {
            RunLog.info("loss_curve.png: \(error)")
        }
        guard let mae = model as? MaskedAutoencoderViT else { return }
        do {
            guard let batch = try feed.batches(epoch: 0, startBatch: 0).next() else { return }
            let shape = [1] + batch.shape.dropFirst()
            let x = try Tensor.wrapping(Array(batch.data.prefix(shape.reduce(1, *))), shape: shape)
            let noise = try mae.makeNoise(batch: 1, generator: Generator(seed: UInt64(config.seed) &+ 7))
            let r = try reconstruct(mae, clip: x, noise: noise, mean: config.mean, std: config.std)
            let fig = reconstructionFigure(
                r,
                title: String(
                    format: "epoch %d: loss %.4f, %.0f%% of pixels masked", epoch, r.loss,
                    r.maskedFraction * 100))
            let path = dir + "/reconstruction.png"
            let png = try fig.write(png: path)
            log.image("reconstruction", png: png, width: fig.width, height: fig.height, step: epoch, file: path)
        } catch { RunLog.info("reconstruction.png: \(error)") }
    }
}

extension Finetuner {
    /// loss_curve.png and, after a validation, confusion_val.png (also in TensorBoard as "confusion_val").
    func writePictures(_ result: EvalResult?, epoch: Int) {
        let dir = config.logDirectory
        do { try LossCurve.write(state.lossHistory, to: dir + "/loss_curve.png", logScale: config.logScale) } catch {
            RunLog.info("loss_curve.png: \(error)")
        }
        guard let result else { return }
        let fig = ConfusionPlot.figure(result, classNames: classNames, title: "validation, epoch \(epoch)")
        let path = dir + "/confusion_val.png"
        do {
            let png = try fig.write(png: path)
            log.image("confusion_val", png: png, width: fig.width, height: fig.height, step: epoch, file: path)
        } catch { RunLog.info("confusion_val.png: \(error)") }
    }
}

/// Original / masked / prediction rows of a reconstruction, a column per frame.
public func reconstructionFigure(_ r: Reconstruction, title: String, columns: Int = 8) -> Figure {
    func strip(_ v: VideoClip) -> FrameStrip {
        FrameStrip(frames: v.frames, height: v.height, width: v.width, pixels: v.pixels)
    }
    return Figure.frameRows(
        [("original", strip(r.original)), ("masked", strip(r.masked)), ("prediction", strip(r.reconstruction))],
        title: title, columns: columns)
}
