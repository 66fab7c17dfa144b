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
        let (videos, broken) = try HostileCorpusTests.corpus(in: tmp)
        let damaged = videos + "/circle_left/damaged.mp4"
        let runs: [(String, [String])] = [
            ("pre", ["pretrain", "--data_dirs", videos, "--epochs", "1"] + tinyCLIFlags),
            ("ft", ["finetune", "--train_dir", videos, "--epochs", "1"] + tinyFinetuneFlags)
        ]
        for (name, args) in runs {
            let out = tmp.sub(name)
            let r = try runSTMAE(args + ["--output_dir", out], timeout: 150)
            #expect(r.status == 0, "\(r.stderr)")
            let line = r.stderr.split(separator: "\n").first { $0.hasPrefix("data: ") && $0.contains("skipped") }
            let text = line.map(String.init) ?? ""
            #expect(text.hasPrefix("data: \(broken.count) files skipped ("), "\(name): \(r.stderr)")
            let log = (try? String(contentsOfFile: out + "/log.jsonl", encoding: .utf8)) ?? ""
            let record = log.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }.first { $0["type"] as? String == "data" }
            try #require(record != nil, "\(name): no data record in \(log.suffix(300))")
            #expect(record?["skipped"] as? Int == broken.count)
            let reasons = record?["skipped_reasons"] as? [String: Int] ?? [:]
            #expect(reasons.values.reduce(0, +) == broken.count, "\(reasons)")
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
