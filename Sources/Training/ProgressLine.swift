import Foundation

/// The progress display of every long command: on a terminal one `\r`-updated line with rate and ETA (redrawn at
/// most 5 times a second); otherwise plain lines, one every `interval` seconds (and on `force` / `finish`).
/// "label 37/120 (31%)  12.3 clips/s  ETA 1m05s  detail"; counting bytes: "label 12.3/45.6 MB (27%)  4.1 MB/s  …".
public final class ProgressLine {
    public let label: String, total: Int?, unit: String
    /// The counts are bytes, shown as MB (unit "MB").
    public let bytes: Bool
    /// Units already done when this line started (a resumed epoch): not counted in the rate.
    public let initial: Int
    let interval: Double, tty: Bool, sink: (String) -> Void
    let start = Date()
    var lastDraw = Date.distantPast
    var drawn = false

    /// `total`: how many `unit`s to do (nil: unknown, no percentage or ETA); `bytes`: the counts are bytes (shown in
    /// MB, `unit` ignored); `tty`: nil = whether stderr is one; `sink`: where the text goes (default stderr; tests
    /// capture it).
    public init(
        _ label: String, total: Int?, unit: String = "clips", bytes: Bool = false, initial: Int = 0,
        interval: Double = 10, tty: Bool? = nil, sink: ((String) -> Void)? = nil
    ) {
        (self.label, self.total, self.initial, self.interval) = (label, total, initial, interval)
        (self.unit, self.bytes) = (bytes ? "MB" : unit, bytes)
        self.tty = tty ?? (isatty(STDERR_FILENO) != 0)
        self.sink = sink ?? { FileHandle.standardError.write(Data($0.utf8)) }
    }

    /// "1m05s", "2h03m", "42s".
    public static func duration(_ s: Double) -> String {
        guard s.isFinite, s >= 0 else { return "?" }
        let t = Int(s.rounded())
        if t >= 3600 { return String(format: "%dh%02dm", t / 3600, t / 60 % 60) }
        if t >= 60 { return String(format: "%dm%02ds", t / 60, t % 60) }
        return "\(t)s"
    }

    /// The line for `done` units after `elapsed` seconds.
    public func text(_ done: Int, elapsed: Double, detail: String = "") -> String {
        let count = { (n: Int) in self.bytes ? String(format: "%.1f", Double(n) / 1e6) : "\(n)" }
        var s = label + " " + count(done)
        let rate = elapsed > 0 ? Double(done - initial) / elapsed : 0
        if let total, total > 0 { s += "/" + count(total) }
        if bytes { s += " MB" }
        if let total, total > 0 { s += " (\(100 * done / total)%)" }
        s += String(format: "  %.1f %@/s", bytes ? rate / 1e6 : rate, unit)
        if let total, total > 0, done < total {
            s += "  ETA " + (rate > 0 ? Self.duration(Double(total - done) / rate) : "?")
        }
        if !detail.isEmpty { s += "  " + detail }
        return s
    }

    /// Reports `done` units; draws when due (terminal: ≥ 0.2 s since the last draw; else ≥ `interval` s) or `force`.
    public func update(_ done: Int, detail: @autoclosure () -> String = "", force: Bool = false) {
        let now = Date()
        guard force || now.timeIntervalSince(lastDraw) >= (tty ? 0.2 : interval) else { return }
        lastDraw = now
        let line = text(done, elapsed: now.timeIntervalSince(start), detail: detail())
        sink(tty ? "\r\u{1B}[K" + line : line + "\n")
        drawn = true
    }

    /// The last line (a terminal's is kept, followed by a newline).
    public func finish(_ done: Int, detail: String = "") {
        let line = text(done, elapsed: Date().timeIntervalSince(start), detail: detail)
        sink(tty ? "\r\u{1B}[K" + line + "\n" : line + "\n")
    }
}
