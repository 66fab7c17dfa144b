import Foundation
import Testing
@testable import Training

/// `ProgressLine`: rate and ETA arithmetic, one redrawn line on a terminal, periodic plain lines otherwise.
@Suite struct ProgressLineTests {
    final class Capture: @unchecked Sendable { var text: [String] = [] }

    @Test func textCarriesCountPercentRateAndETA() {
        let p = ProgressLine("epoch 2", total: 120, unit: "batches", tty: false) { _ in }
        #expect(p.text(30, elapsed: 10, detail: "loss 0.5") == "epoch 2 30/120 (25%)  3.0 batches/s  ETA 30s  loss 0.5")
        #expect(p.text(120, elapsed: 40) == "epoch 2 120/120 (100%)  3.0 batches/s")
        let resumed = ProgressLine("e", total: 100, unit: "clips", initial: 50, tty: false) { _ in }
        #expect(resumed.text(60, elapsed: 5) == "e 60/100 (60%)  2.0 clips/s  ETA 20s")  // only 10 done here
        #expect(ProgressLine("x", total: nil, tty: false) { _ in }.text(7, elapsed: 2) == "x 7  3.5 clips/s")
        #expect(ProgressLine.duration(65) == "1m05s" && ProgressLine.duration(7380) == "2h03m")
        #expect(ProgressLine.duration(42) == "42s")
    }

    /// Counting bytes (`stmae convert`): MB with one decimal, an MB/s rate, the ETA by bytes.
    @Test func bytesAreShownInMB() {
        let p = ProgressLine("convert", total: 50_000_000, bytes: true, tty: false) { _ in }
        let quarter = p.text(12_500_000, elapsed: 5, detail: "3 tensors")
        #expect(quarter == "convert 12.5/50.0 MB (25%)  2.5 MB/s  ETA 15s  3 tensors")
        #expect(p.text(50_000_000, elapsed: 20) == "convert 50.0/50.0 MB (100%)  2.5 MB/s")
        let open = ProgressLine("r", total: nil, bytes: true, tty: false) { _ in }
        #expect(open.text(3_000_000, elapsed: 2) == "r 3.0 MB  1.5 MB/s")
    }

    @Test func plainLinesAreThrottledAndForcedOnes() {
        let out = Capture()
        let p = ProgressLine("run", total: 10, interval: 3600, tty: false) { out.text.append($0) }
        for i in 1 ... 10 { p.update(i) }  // the first draws, the rest are within the interval
        p.update(5, detail: "window", force: true)
        p.finish(10)
        #expect(out.text.count == 3 && out.text.allSatisfy { $0.hasSuffix("\n") && !$0.contains("\r") })
        #expect(out.text[1].contains("window") && out.text[2].hasPrefix("run 10/10 (100%)"))
    }

    @Test func terminalRedrawsOneLine() {
        let out = Capture()
        let p = ProgressLine("run", total: 10, tty: true) { out.text.append($0) }
        p.update(1)
        p.update(2)  // within 0.2 s: not redrawn
        p.finish(10)
        #expect(out.text.count == 2 && out.text.allSatisfy { $0.hasPrefix("\r\u{1B}[K") })
        #expect(!out.text[0].hasSuffix("\n") && out.text[1].hasSuffix("\n"))
    }
}
