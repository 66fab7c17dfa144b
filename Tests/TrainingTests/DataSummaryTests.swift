import Foundation
import Testing
import TestSupport
@testable import Training

/// The end-of-run account of unreadable and damaged files (issue 24, item 4), printed and written into log.jsonl.
@Suite(.serialized) struct DataSummaryTests {
    /// The hostile corpus (4 unreadable files, one with bytes flipped in its middle half) through `pretrain` and
    /// `finetune` for one whole epoch: one line "N files skipped (reason: count…), M files with K damaged
    /// packets/frames (file: count…)" and the same counts in a `data` record.
    @Test(.timeLimit(.minutes(4))) func runsEndWithASummaryOfSkippedAndDamagedFiles() throws {
        let tmp = try TempDir("data-summary")
        let (videos, _) = try HostileCorpusTests.corpus(in: tmp)
        let damaged = try damagedPackets(in: videos + "/circle_right")
        let runs: [(String, [String])] = [
            ("pre", ["pretrain", "--data_dirs", videos, "--epochs", "1"] + tinyCLIFlags),
            ("ft", ["finetune", "--train_dir", videos, "--epochs", "1"] + tinyFinetuneFlags)
        ]
        for (name, args) in runs {
            let out = tmp.sub(name)
            let r = try runOK(args + ["--output_dir", out], timeout: 150)
            let line = r.stderr.split(separator: "\n").first { $0.hasPrefix("data: ") && $0.contains("skipped") }
            let text = line.map(String.init) ?? ""
            print("\(name): \(text)")
            // what the loader reported file by file as it met them
            let skipped = Set(
                r.stderr.split(separator: "\n").compactMap { l -> Substring? in
                    guard let i = l.range(of: "skipping unreadable video ") else { return nil }
                    return l[i.upperBound...].prefix { $0 != ":" }
                })
            #expect(skipped.count >= 4, "\(name): \(skipped)")
            #expect(text.hasPrefix("data: \(skipped.count) files skipped ("), "\(name): \(r.stderr)")
            let log = (try? String(contentsOfFile: out + "/log.jsonl", encoding: .utf8)) ?? ""
            let record = log.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }.first { $0["type"] as? String == "data" }
            try #require(record != nil, "\(name): no data record in \(log.suffix(300))")
            #expect(record?["skipped"] as? Int == skipped.count)
            let reasons = record?["skipped_reasons"] as? [String: Int] ?? [:]
            #expect(reasons.values.reduce(0, +) == skipped.count, "\(reasons)")
            for (reason, n) in reasons { #expect(text.contains("\(reason): \(n)"), "\(text)") }
            let perFile = record?["damaged_per_file"] as? [String: Int] ?? [:]
            let k = perFile[damaged] ?? 0
            #expect(k > 0, "\(name): damaged.mp4 not counted: \(perFile)")
            #expect(record?["damaged"] as? Int == perFile.values.reduce(0, +))
            #expect(text.contains("\(perFile.count) file"), "\(text)")
            #expect(text.contains("\(damaged): \(k)"), "\(text)")
        }
    }
}

/// A copy of the first video in `dir` whose media data (the `mdat` box) has a run of garbled bytes in its middle: the
/// container opens, some packets decode with errors (concealed). Returns its path.
func damagedPackets(in dir: String) throws -> String {
    let good = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".mp4") }.sorted()[0]
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/" + good)))
    var at = 0
    while at + 8 <= bytes.count {  // top-level boxes: 32-bit big-endian size, 4-byte type
        let size = bytes[at ..< at + 4].reduce(0) { $0 << 8 | Int($1) }
        if String(decoding: bytes[at + 4 ..< at + 8], as: UTF8.self) == "mdat" {
            let (start, end) = (at + 8 + (size - 8) * 2 / 5, at + 8 + (size - 8) * 3 / 5)
            for i in start ..< end { bytes[i] = UInt8(truncatingIfNeeded: i &* 131 &+ 7) }
            let path = dir + "/packets.mp4"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return path
        }
        guard size >= 8 else { break }
        at += size
    }
    throw TestSupportError("\(good): no mdat box")
}
