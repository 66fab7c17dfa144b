// stmae-gpucheck: the Swift side of the prepared GPU check (scripts/gpu-check.sh, scripts/gpu_check.py). A small
// binary on Torch/NN/Models/Distributed only (no FFmpeg, no Training), linked with the static Swift standard library
// so that it runs where no Swift toolchain is installed. Each mode prints one JSON line; gpu_check.py runs the PyTorch
// side and compares.
//
//   stmae-gpucheck parity   FILE DEVICE fp32|bf16                          MAE loss + gradient norm of FILE's case
//   stmae-gpucheck pretrain DEVICE BATCH FRAMES SIZE MODEL WARMUP STEPS    MAE step s/step (bf16 autocast, AdamW)
//   stmae-gpucheck infer    DEVICE BATCH FRAMES SIZE MODEL WARMUP STEPS    classifier clips/s (bf16 autocast)
//   stmae-gpucheck finetune DEVICE BATCH FRAMES SIZE MODEL                 one fine-tuning step in fp16
//   stmae-gpucheck allreduce DEVICE PORT                                   a one-rank NCCL (CUDA) / Gloo all-reduce
import Distributed
import Foundation
import Models
import NN
import Torch

struct CheckError: Error, CustomStringConvertible {
    let description: String
    init(_ s: String) { description = s }
}

func emit(_ fields: [String: Any]) throws {
    let data = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

func seconds(since t0: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9
}
func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

/// The autocast dtype of a precision name (nil: fp32).
func autocastDType(_ precision: String) throws -> DType? {
    switch precision {
    case "fp32": return nil
    case "bf16": return .bfloat16
    case "fp16": return .float16
    default: throw CheckError("precision must be fp32, bf16 or fp16, got \(precision)")
    }
}

func autocast<R>(_ precision: String, on device: Device, _ body: () throws -> R) throws -> R {
    guard let dtype = try autocastDType(precision) else { return try body() }
    return try withAutocast(dtype, device: device, body)
}

/// The L2 norm over every parameter gradient (`clip_grad_norm_`'s total norm), in float64 on the CPU.
func gradNorm(_ m: Module) throws -> Double {
    var sum = 0.0
    for (_, p) in m.namedParameters() {
        guard let g = p.grad else { continue }
        let n = try g.to(.float64).norm().to(.cpu).item()
        sum += n * n
    }
    return sum.squareRoot()
}

/// (a) The case FILE holds (gpu_check.py: `param.*` of reference/models_mae_st.py's model, `input.x`, `input.noise`,
/// metadata `config` = its kwargs): loss and gradient norm of stmae's MaskedAutoencoderViT on DEVICE.
func parity(_ file: String, _ device: Device, _ precision: String) throws {
    let (tensors, meta) = try TensorFile.loadOrdered(file)
    let t = Dictionary(uniqueKeysWithValues: tensors)
    guard let json = meta["config"], let kw = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
    else { throw CheckError("\(file): no config metadata") }
    let model = try MaskedAutoencoderViT(MAEConfig().updating(kw))
    let params = Dictionary(
        uniqueKeysWithValues: t.compactMap { k, v in k.hasPrefix("param.") ? (String(k.dropFirst(6)), v) : nil })
    try model.loadStateDict(params)
    try model.move(to: device)
    guard let x = t["input.x"], let noise = t["input.noise"] else { throw CheckError("\(file): no input.x/noise") }
    let out = try autocast(precision, on: device) { try model(x.to(device), noise: noise.to(device)) }
    try out.loss.backward()
    try emit([
        "mode": "parity", "precision": precision, "device": "\(device)", "loss": try out.loss.to(.cpu).item(),
        "grad_norm": try gradNorm(model)
    ])
}

/// MAE of the pre-training step: mask 0.9, decoder 512×4 (16 heads), t_patch 2 (as `stmae bench pretrain`).
func benchMAEConfig(_ model: String, frames: Int, size: Int) throws -> MAEConfig {
    var c = try MAEConfig.named(model)
    (c.imgSize, c.numFrames, c.tPatchSize, c.predTDim, c.maskRatio) = (size, frames, 2, frames, 0.9)
    if c.embedDim > 64 { (c.decoderEmbedDim, c.decoderDepth, c.decoderNumHeads) = (512, 4, 16) }
    return c
}

/// A config by name, or a tiny one ("tiny": CPU rehearsal sizes).
func maeConfig(_ model: String, frames: Int, size: Int) throws -> MAEConfig {
    guard model == "tiny" else { return try benchMAEConfig(model, frames: frames, size: size) }
    return try MAEConfig().updating([
        "img_size": size, "patch_size": 4, "embed_dim": 32, "depth": 2, "num_heads": 2, "decoder_embed_dim": 16,
        "decoder_depth": 1, "decoder_num_heads": 2, "num_frames": frames, "t_patch_size": 2, "pred_t_dim": frames,
        "mask_ratio": 0.9
    ])
}

func vitConfig(_ model: String, frames: Int, size: Int) throws -> ViTConfig {
    var c: ViTConfig
    if model == "tiny" {
        c = try ViTConfig().updating([
            "img_size": size, "patch_size": 4, "embed_dim": 32, "depth": 2, "num_heads": 2, "num_frames": frames,
            "t_patch_size": 2, "num_classes": 10
        ])
    } else {
        c = try ViTConfig.named(model)
        (c.imgSize, c.numFrames) = (size, frames)
    }
    return c
}

/// (b) Median s/step of the MAE pre-training step: forward under bf16 autocast, backward, AdamW (mae_st's groups).
func pretrain(_ device: Device, batch: Int, frames: Int, size: Int, model: String, warmup: Int, steps: Int) throws {
    let cfg = try maeConfig(model, frames: frames, size: size)
    let mae = try MaskedAutoencoderViT(cfg, generator: Generator(seed: 0))
    try mae.move(to: device)
    let opt = AdamW(paramGroups(mae.namedParameters(), weightDecay: 0.05), lr: 1e-4, betas: (0.9, 0.95))
    let x = try Tensor.randn([batch, 3, cfg.numFrames, cfg.imgSize, cfg.imgSize]).to(device)
    var times: [Double] = [], loss = 0.0
    for i in 0 ..< warmup + steps {
        let t0 = DispatchTime.now()
        let noise = try mae.makeNoise(batch: batch).to(device)
        let out = try autocast("bf16", on: device) { try mae(x, noise: noise) }
        try out.loss.backward()
        try opt.step()
        try mae.zeroGrad()
        loss = try out.loss.to(.cpu).item()  // synchronises the device
        if i >= warmup { times.append(seconds(since: t0)) }
    }
    try emit([
        "mode": "pretrain", "device": "\(device)", "batch": batch, "s_per_step": median(times), "loss_last": loss,
        "steps": steps
    ])
}

/// (c) Classifier inference clips/s under bf16 autocast, no grad.
func infer(_ device: Device, batch: Int, frames: Int, size: Int, model: String, warmup: Int, steps: Int) throws {
    let vit = try VisionTransformer(vitConfig(model, frames: frames, size: size), generator: Generator(seed: 0))
    vit.eval()
    try vit.move(to: device)
    let x = try Tensor.randn([batch, 3, frames, size, size]).to(device)
    var times: [Double] = []
    try withNoGrad {
        for i in 0 ..< warmup + steps {
            let t0 = DispatchTime.now()
            _ = try autocast("bf16", on: device) { try vit(x) }.to(.float32).sum().to(.cpu).item()
            if i >= warmup { times.append(seconds(since: t0)) }
        }
    }
    let s = median(times)
    try emit([
        "mode": "infer", "device": "\(device)", "batch": batch, "s_per_step": s, "clips_per_s": Double(batch) / s
    ])
}

/// (d) One fine-tuning step in fp16: forward under fp16 autocast, cross-entropy, backward and AdamW through the
/// gradient scaler (NN/GradScaler.swift).
func finetune(_ device: Device, batch: Int, frames: Int, size: Int, model: String) throws {
    let cfg = try vitConfig(model, frames: frames, size: size)
    let vit = try VisionTransformer(cfg, generator: Generator(seed: 0))
    try vit.move(to: device)
    let opt = AdamW(paramGroups(vit.namedParameters(), weightDecay: 0.05), lr: 1e-4, betas: (0.9, 0.999))
    let x = try Tensor.randn([batch, 3, frames, size, size]).to(device)
    let y = try Tensor.randint(0, cfg.numClasses, [batch]).to(device)
    // fp16 as torch.amp.GradScaler: scaled backward, unscaled gradients, step skipped on inf/NaN, scale updated. The
    // first steps may overflow at the initial scale 65536: steps repeat on the same batch until one is taken (≤ 8).
    let scaler = try GradScaler()
    var (lossValue, norm, stepped, skipped, dtype) = (Double.nan, Double.nan, false, 0, "")
    let t0 = DispatchTime.now()
    while !stepped && skipped < 8 {
        let logits = try autocast("fp16", on: device) { try vit(x) }
        let loss = try crossEntropy(logits.to(.float32), y, labelSmoothing: 0.1)
        try scaler.scale(loss).backward()
        try scaler.unscale(opt)
        norm = try gradNorm(vit)
        stepped = try scaler.step(opt)
        try scaler.update()
        try opt.zeroGrad()
        (lossValue, dtype) = (try loss.to(.cpu).item(), "\(logits.dtype)")
        if !stepped { skipped += 1 }
    }
    try emit([
        "mode": "finetune", "device": "\(device)", "precision": "fp16", "loss": lossValue,
        "grad_norm": norm.isFinite ? norm : NSNull(), "finite": lossValue.isFinite && norm.isFinite,
        "logits_dtype": dtype, "s": seconds(since: t0), "grad_scaler": true, "stepped": stepped,
        "skipped_steps": skipped, "loss_scale": try scaler.currentScale
    ])
}

/// (e) A one-rank all-reduce over stmae's c10d binding: NCCL on CUDA (the shim must be built with it), Gloo on CPU.
func allReduce(_ device: Device, port: Int) throws {
    let backend = try DistBackend.resolve(
        requested: "auto", deviceIsCUDA: device != .cpu, ncclBuilt: DistBackend.ncclBuilt)
    let env = DistEnvironment(masterAddr: "127.0.0.1", masterPort: port)
    let pg = try ProcessGroup(env, timeout: 120, heartbeat: 0, backend: backend)
    let t = try Tensor([1.0, 2.0, 3.0] as [Float], shape: [3]).to(pg.device)
    try pg.allReduce([t], op: .sum)
    try emit([
        "mode": "allreduce", "backend": "\(backend)", "device": "\(pg.device)", "nccl_built": DistBackend.ncclBuilt,
        "result": try t.to(.cpu).toArray(Float.self).map(Double.init)
    ])
}

func main() throws {
    let a = Array(CommandLine.arguments.dropFirst())
    func int(_ i: Int) throws -> Int {
        guard i < a.count, let v = Int(a[i]) else { throw CheckError("argument \(i + 1) must be an integer") }
        return v
    }
    guard let mode = a.first else {
        throw CheckError("usage: stmae-gpucheck parity|pretrain|infer|finetune|allreduce …")
    }
    let device = try Device(parsing: a.count > 2 && mode == "parity" ? a[2] : a.count > 1 ? a[1] : "cpu")
    switch mode {
    case "parity" where a.count == 4: try parity(a[1], device, a[3])
    case "pretrain" where a.count == 8, "infer" where a.count == 8:
        let f = mode == "pretrain" ? pretrain : infer
        try f(device, try int(2), try int(3), try int(4), a[5], try int(6), try int(7))
    case "finetune" where a.count == 6:
        try finetune(device, batch: try int(2), frames: try int(3), size: try int(4), model: a[5])
    case "allreduce" where a.count == 3: try allReduce(device, port: try int(2))
    default: throw CheckError("bad arguments \(a) (see the header of Sources/stmae-gpucheck/main.swift)")
    }
}

do { try main() } catch {
    FileHandle.standardError.write(Data("stmae-gpucheck: \(error)\n".utf8))
    exit(1)
}
