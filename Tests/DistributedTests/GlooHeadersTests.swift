import Distributed
import Foundation
import Testing
import TestSupport

/// The Gloo headers come from Debian's libgloo-dev (an older Gloo than the one inside libtorch). That is sound only
/// because our shim sees Gloo objects through pointers: the c10d objects it allocates must have libtorch's sizes, and
/// it must not emit any Gloo code of its own (e.g. `GlooStore`'s vtable, whose virtuals differ between Gloo versions).
/// The exact all-reduce across processes (DistributedTests) is the behavioural proof.
struct GlooHeadersTests {
    /// The libtorch_cpu.so this process loaded (the shim may be built against .torch/ or another torch).
    static var libtorch: String {
        get throws {
            try loadedLibraryPath("libtorch_cpu.so") ?? (packageRoot + "/.torch/torch/lib/libtorch_cpu.so")
        }
    }

    /// The byte count libtorch passes to `operator new` right before calling constructor `ctor` inside `function`.
    static func allocationSize(in function: String, before ctor: String) throws -> Int? {
        let libtorch = try Self.libtorch
        let syms = try runTool("nm", ["-DS", libtorch])
        guard let line = syms.split(separator: "\n").first(where: { $0.hasSuffix(" " + function) }) else { return nil }
        let f = line.split(separator: " ")
        guard let start = UInt64(f[0], radix: 16), let size = UInt64(f[1], radix: 16) else { return nil }
        let asm = try runTool(
            "objdump",
            [
                "-d", "--no-show-raw-insn", "--start-address=0x" + String(start, radix: 16),
                "--stop-address=0x" + String(start + size, radix: 16), libtorch
            ]
        ).split(separator: "\n")
        guard let call = asm.firstIndex(where: { $0.contains("call") && $0.contains(ctor) }) else { return nil }
        guard let new = asm[..<call].lastIndex(where: { $0.contains("<_Znwm@plt>") }),
            let mov = asm[..<new].lastIndex(where: { $0.contains("%edi") && $0.contains("mov    $0x") })
        else { return nil }
        let imm = asm[mov].components(separatedBy: "$0x")[1].prefix { $0.isHexDigit }
        return Int(imm, radix: 16)
    }

    @Test func c10dLayoutsMatchLibtorch() throws {
        let ours = try ProcessGroup.abiSizes()
        // ProcessGroupGloo::split makes a new group; Options::create_default makes an Options.
        let pg = try Self.allocationSize(
            in:
                "_ZN4c10d16ProcessGroupGloo5splitERKN3c1013intrusive_ptrINS_5StoreENS1_6detail34"
                + "intrusive_target_default_null_typeIS3_EEEERKSt6vectorIiSaIiEERKNS2_INS_7Backend7Options"
                + "ENS5_ISG_EEEE",
            before: "_ZN4c10d16ProcessGroupGlooC1")
        let opts = try Self.allocationSize(
            in: "_ZN4c10d16ProcessGroupGloo7Options14create_defaultENSt6chrono8durationIlSt5ratioILl1ELl1000EEEE",
            before: "_ZN4c10d16ProcessGroupGloo7OptionsC1")
        #expect(pg != nil && opts != nil, "could not find the allocations in libtorch_cpu.so")
        #expect(
            pg == ours.processGroupGloo, "sizeof(ProcessGroupGloo): libtorch \(pg ?? -1), ours \(ours.processGroupGloo)"
        )
        #expect(
            opts == ours.glooOptions,
            "sizeof(ProcessGroupGloo::Options): libtorch \(opts ?? -1), ours \(ours.glooOptions)")
    }

    /// The c10d shim files define no Gloo symbol (only std containers of pointers to Gloo types). Their objects are
    /// in the CMake build folder of the libstmae_ctorch.so this process loaded.
    @Test(arguments: ["dist.cpp.o", "dist_reducer.cpp.o"]) func shimEmitsNoGlooCode(_ file: String) throws {
        let lib = try #require(try loadedLibraryPath("libstmae_ctorch.so"), "libstmae_ctorch.so not loaded")
        let build = URL(fileURLWithPath: lib).deletingLastPathComponent()
        let obj = build.appendingPathComponent("CMakeFiles/stmae_ctorch_objects.dir/Sources/CTorch/" + file).path
        try #require(FileManager.default.fileExists(atPath: obj), "no \(obj)")
        let defined = try runTool("nm", ["-C", "--defined-only", obj]).split(separator: "\n").map {
            $0.split(separator: " ", maxSplits: 2).last.map(String.init) ?? ""
        }
        let gloo = defined.filter { s in
            s.hasPrefix("gloo::") || s.contains("for gloo::") || s.contains("GlooStore") || s.contains("AsyncWork")
                || (s.contains("ProcessGroupGloo::") && !s.hasPrefix("c10::intrusive_ptr<") && !s.hasPrefix("std::"))
        }
        #expect(defined.contains { $0.hasPrefix("ctd_") }, "not a shim object")
        #expect(gloo.isEmpty, "\(file) defines Gloo code: \(gloo.prefix(5))")
    }

    /// The Debian headers are the ones compiled against (config.h of libgloo-dev, 0.5.0) and have the TCP transport.
    @Test func debianGlooHeadersPresent() throws {
        let config = try String(contentsOfFile: "/usr/include/gloo/config.h", encoding: .utf8)
        #expect(config.contains("#define GLOO_HAVE_TRANSPORT_TCP 1"))
        #expect(config.contains("GLOO_VERSION_MAJOR"))
    }
}
