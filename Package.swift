// swift-tools-version:6.0
// stmae — spatiotemporal masked autoencoders in Swift on libtorch.
// Layers: CPUKernels (AVX2/AVX-512 and OpenBLAS kernels, CPU-only) → CTorch (C ABI shim over libtorch) → Torch
// (Swift tensors) → NN → Models → Media/Datasets → Training → stmae CLI.
import PackageDescription
import Foundation

/// libtorch lives in `.torch/` (installed by `make setup`: pip --target, CPU wheel).
let torchRoot = Context.packageDirectory + "/.torch/torch"
/// OpenBLAS (the scipy-openblas32 wheel, symbols prefixed `scipy_`) for fp32 linears, installed beside it.
let blasRoot = Context.packageDirectory + "/.torch/scipy_openblas32"
/// C++ flags of the targets compiled against libtorch: its headers and C++11 ABI, -O2.
let torchCxx = ["-isystem", "\(torchRoot)/include", "-isystem", "\(torchRoot)/include/torch/csrc/api/include",
                "-D_GLIBCXX_USE_CXX11_ABI=1", "-O2", "-Wno-deprecated-declarations"]
let torchLinker: [LinkerSetting] = [
    .unsafeFlags(["-L\(torchRoot)/lib", "-Xlinker", "-rpath", "-Xlinker", "\(torchRoot)/lib"]),
    .linkedLibrary("torch_cpu"), .linkedLibrary("c10"),
]
let blasLinker: [LinkerSetting] = [
    .unsafeFlags(["-L\(blasRoot)/lib", "-Xlinker", "-rpath", "-Xlinker", "\(blasRoot)/lib"]),
    .linkedLibrary("scipy_openblas"),
]

let package = Package(
    name: "stmae",
    products: [
        .library(name: "STMAE", targets: ["Torch", "TensorFiles", "NN", "Models", "Media", "Datasets", "Training", "Distributed"]),
        .executable(name: "stmae", targets: ["stmae"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Engine binding: CPU kernels (fused attention, OpenBLAS/oneDNN linears, bf16 conversions; per-function
        // target attributes pick AVX2/AVX-512), the C ABI over libtorch that routes CPU tensors to them, the Swift Tensor.
        .target(
            name: "CPUKernels",
            cxxSettings: [.unsafeFlags(torchCxx + ["-isystem", "\(blasRoot)/include"])],
            linkerSettings: torchLinker + blasLinker),
        .target(
            name: "CTorch",
            dependencies: ["CPUKernels"],
            cxxSettings: [.unsafeFlags(torchCxx)],
            linkerSettings: torchLinker),
        .target(name: "TensorFiles"),
        // One seeded generator (SplitMix64) for synthetic videos, mask sampling and augmentation: no dependencies.
        .target(name: "SeededRandom"),
        .target(name: "Torch", dependencies: ["CTorch", "TensorFiles"]),
        // nn: modules, initialisers, optimiser, schedules.
        .target(name: "NN", dependencies: ["Torch"]),
        // models: MAE-ST, video ViT classifiers.
        .target(name: "Models", dependencies: ["NN", "TensorFiles", "SeededRandom"]),
        // Media: FFmpeg video decode/encode, JPEG/PNG, synthetic videos.
        .systemLibrary(name: "CFFmpeg", path: "Sources/CFFmpeg", pkgConfig: "libavformat"),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG", pkgConfig: "libturbojpeg"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng"),
        .target(name: "Media", dependencies: ["CFFmpeg", "CTurboJPEG", "CPNG", "SeededRandom"]),
        // data: file lists, clip sampling, augmentation, threaded loader (no engine dependency).
        .target(name: "Datasets", dependencies: ["Media", "SeededRandom"]),
        // training: one-epoch engines, runners, checkpoints, logs.
        // Plot: figures a person reads (curves, confusion matrices, frame panels) through cairo, PNG and SVG.
        .systemLibrary(name: "CCairo", path: "Sources/CCairo", pkgConfig: "cairo"),
        .target(name: "Plot", dependencies: ["CCairo"]),
        .target(name: "Training", dependencies: ["Models", "Datasets", "Media", "Plot"]),
        // distributed: c10d process groups (TCPStore + Gloo), data parallelism, launcher environment.
        .target(name: "Distributed", dependencies: ["CTorch", "Torch", "NN"]),
        .executableTarget(name: "stmae", dependencies: [
            "Torch", "NN", "Models", "Media", "Datasets", "Training", "Distributed",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Test-only (in no product): the helpers every test target shares, and the per-rank worker process that
        // DistributedTests spawn (three of its files are links to the CLI's own, see Tests/DistWorker/main.swift).
        .target(name: "TestSupport", dependencies: ["Torch"], path: "Tests/TestSupport"),
        .executableTarget(name: "stmae-dist-worker", dependencies: [
            "Torch", "NN", "Models", "Training", "Distributed",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Tests/DistWorker"),
        .testTarget(name: "TorchTests", dependencies: ["Torch", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "NNTests", dependencies: ["NN", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TensorFilesTests", dependencies: ["TensorFiles", "SeededRandom", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "MediaTests", dependencies: ["Media", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "TensorFiles", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Datasets", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "PlotTests", dependencies: ["Plot", "Media"]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed", "Torch", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5],
    cxxLanguageStandard: .cxx20
)
