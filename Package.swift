// swift-tools-version:6.0
// stmae — spatiotemporal masked autoencoders in Swift on libtorch.
// Layers: CTorch (C ABI shim over libtorch, a CMake-built shared library with the AVX2/AVX-512 and OpenBLAS CPU
// kernels inside) → Torch (Swift tensors) → NN → Models → Media/Datasets → Training → stmae CLI.
import PackageDescription
import Foundation

/// libtorch is reached only through the C ABI shim libstmae_ctorch.so (CMakeLists.txt, Sources/CTorch and, on x86
/// CPU builds, Sources/CPUKernels), which scripts/build_ctorch.sh compiles against an installed PyTorch (`.torch/` by
/// default, or any CPU/CUDA torch: TORCH_DIR) and describes in `.build-ctorch/pkgconfig/stmae-ctorch.pc`; `make`
/// exports PKG_CONFIG_PATH to it.

let package = Package(
    name: "stmae",
    products: [
        .library(
            name: "STMAE",
            targets: ["Torch", "TensorFiles", "NN", "Models", "Media", "Datasets", "Training", "Distributed"]),
        .executable(name: "stmae", targets: ["stmae"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // Engine binding: the C ABI over libtorch (libstmae_ctorch.so, built by CMake; CPU kernels inside on x86 CPU
        // builds), then the Swift Tensor.
        .systemLibrary(name: "CTorch", path: "Sources/CTorchModule", pkgConfig: "stmae-ctorch"),
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
        .executableTarget(
            name: "stmae",
            dependencies: [
                "Torch", "NN", "Models", "Media", "Datasets", "Training", "Distributed",
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ]),
        // The Swift side of the prepared GPU check (make gpu-bundle, scripts/gpu_check.py): engine and models only, so
        // that it links with the static Swift standard library and runs without FFmpeg.
        .executableTarget(name: "stmae-gpucheck", dependencies: ["Torch", "NN", "Models", "Distributed"]),
        // Test-only (in no product): the helpers every test target shares, and the per-rank worker process that
        // DistributedTests spawn (three of its files are links to the CLI's own, see Tests/DistWorker/main.swift).
        .target(name: "TestSupport", dependencies: ["Torch"], path: "Tests/TestSupport"),
        .executableTarget(
            name: "stmae-dist-worker",
            dependencies: [
                "Torch", "NN", "Models", "Training", "Distributed",
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ], path: "Tests/DistWorker"),
        .testTarget(name: "TorchTests", dependencies: ["Torch", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "NNTests", dependencies: ["NN", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "TensorFilesTests", dependencies: ["TensorFiles", "SeededRandom", "TestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "MediaTests", dependencies: ["Media", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "DatasetsTests", dependencies: ["Datasets", "TensorFiles", "TestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "TrainingTests", dependencies: ["Training", "Datasets", "TestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "PlotTests", dependencies: ["Plot", "Media"]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed", "Torch", "TestSupport"])
    ],
    swiftLanguageModes: [.v5],
    cxxLanguageStandard: .cxx20
)
