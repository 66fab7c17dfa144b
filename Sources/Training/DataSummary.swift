import Datasets

/// The end-of-run account of what a run's loaders met: files skipped (unreadable) with their reasons, and files that
/// decoded with damaged packets/frames (concealed). Printed by `pretrain` / `finetune` at the end and written into
/// log.jsonl as one `{"type": "data", …}` record. In a data-parallel run each rank counts the files of its shard.
public struct DataSummary {
    /// Each file once, in the order met.
    public private(set) var skipped: [(path: String, reason: String)] = []
    public private(set) var damaged: [(path: String, count: Int)] = []

    public init(_ loaders: [VideoLoader]) {
        var seen = Set<String>(), seenDamaged = Set<String>()
        for l in loaders {
            for f in l.failures where seen.insert(f.path).inserted { skipped.append(f) }
            for d in l.decodeErrors where seenDamaged.insert(d.path).inserted { damaged.append(d) }
        }
    }

    /// Skipped files per reason, most frequent first (then by reason).
    public var reasons: [(reason: String, count: Int)] {
        Dictionary(grouping: skipped) { $0.reason }.map { ($0.key, $0.value.count) }
            .sorted { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
    }

    /// Damaged packets/frames over all files.
    public var damagedTotal: Int { damaged.reduce(0) { $0 + $1.count } }

    /// "N files skipped (reason: count, …), M files with K damaged packets/frames (file: count, …)".
    public var line: String {
        func files(_ n: Int) -> String { n == 1 ? "1 file" : "\(n) files" }
        var s = files(skipped.count) + " skipped"
        if !skipped.isEmpty { s += " (" + reasons.map { "\($0.reason): \($0.count)" }.joined(separator: ", ") + ")" }
        s += ", " + files(damaged.count) + " with \(damagedTotal) damaged packets/frames"
        if !damaged.isEmpty { s += " (" + damaged.map { "\($0.path): \($0.count)" }.joined(separator: ", ") + ")" }
        return s
    }

    /// The log.jsonl record.
    public var record: [String: Any] {
        [
            "type": "data", "skipped": skipped.count,
            "skipped_reasons": Dictionary(uniqueKeysWithValues: reasons.map { ($0.reason, $0.count) }),
            "skipped_files": skipped.map { ["path": $0.path, "reason": $0.reason] },
            "damaged_files": damaged.count, "damaged": damagedTotal,
            "damaged_per_file": Dictionary(damaged.map { ($0.path, $0.count) }, uniquingKeysWith: max)
        ]
    }

    /// Prints `line` and writes `record` into `log`.
    public func report(to log: RunLog) {
        RunLog.info("data: " + line)
        log.write(record)
    }
}
