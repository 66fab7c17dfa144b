import Foundation
import TestSupport
import Testing
import Datasets

@Suite struct VideoListTests {
    @Test func scanFindsNestedVideosWithMixedCaseExtensions() throws {
        let tmp = try TempDir("data")
        let fm = FileManager.default
        for d in ["flat/a/b", "classes/dog/deep", "classes/cat", "classes/.hidden"] {
            try fm.createDirectory(atPath: tmp.sub(d), withIntermediateDirectories: true)
        }
        for f in [
            "flat/x.MP4", "flat/a/y.mkv", "flat/a/b/z.WebM", "flat/a/w.Avi", "flat/readme.txt", "flat/a/clip.mp4.part",
            "flat/.x.mp4.tmp", "flat/.hidden.mp4", "classes/dog/1.mp4", "classes/dog/deep/2.mp4", "classes/cat/3.mkv",
            "classes/cat/notes.md", "classes/.hidden/4.mp4"
        ] {
            _ = fm.createFile(atPath: tmp.sub(f), contents: Data())
        }
        let flat = try VideoList.scan(dirs: [tmp.sub("flat")])
        #expect(flat.map(\.path) == ["a/b/z.WebM", "a/w.Avi", "a/y.mkv", "x.MP4"].map { tmp.sub("flat/" + $0) })
        #expect(flat.allSatisfy { $0.label == 0 })
        #expect(try VideoList.classNames(dirs: [tmp.sub("flat")]).isEmpty)

        let classes = try VideoList.scan(dirs: [tmp.sub("classes") + "/"])
        #expect(try VideoList.classNames(dirs: [tmp.sub("classes")]) == ["cat", "dog"])
        #expect(
            classes == [
                VideoSample(path: tmp.sub("classes/cat/3.mkv"), label: 0),
                VideoSample(path: tmp.sub("classes/dog/1.mp4"), label: 1),
                VideoSample(path: tmp.sub("classes/dog/deep/2.mp4"), label: 1)
            ])
        // Several directories: one sorted list.
        #expect(try VideoList.scan(dirs: [tmp.sub("flat"), tmp.sub("classes")]).count == 7)
    }

    @Test func scanNamesMissingDirectory() throws {
        let tmp = try TempDir("data")
        let missing = tmp.sub("nope")
        #expect { try VideoList.scan(dirs: [tmp.path, missing]) } throws: { error in
            "\(error)".contains(missing) && "\(error)".contains("no such directory")
        }
    }

    @Test func csvRoundTripAndSeparators() throws {
        let tmp = try TempDir("data")
        let samples = [VideoSample(path: "/data/a b/clip 1.mp4", label: 3), VideoSample(path: "/data/x.mkv", label: 0)]
        let csv = tmp.sub("train.csv")
        try VideoList.writeCSV(samples, to: csv)
        #expect(try String(contentsOfFile: csv, encoding: .utf8) == "/data/a b/clip 1.mp4, 3\n/data/x.mkv, 0\n")
        #expect(try VideoList.readCSV(path: csv) == samples)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path) == ["train.csv"])  // no temp left

        let mixed = tmp.sub("mixed.csv")
        #expect(
            try readList("/v/a.mp4, 1\n/v/b.mp4,2\n\n/v/c.mp4 3\n# comment\nrel/d.mp4\t4\n", at: mixed) == [
                VideoSample(path: "/v/a.mp4", label: 1), VideoSample(path: "/v/b.mp4", label: 2),
                VideoSample(path: "/v/c.mp4", label: 3), VideoSample(path: tmp.sub("rel/d.mp4"), label: 4)
            ])
        #expect(try VideoList.readCSV(path: mixed, relativeTo: "/root")[3].path == "/root/rel/d.mp4")
        #expect(try VideoList.samples(from: csv) == samples)
        #expect(try VideoList.samples(from: tmp.path).isEmpty)
        #expect(throws: DatasetError.self) { try VideoList.samples(from: tmp.sub("none")) }
    }

    /// Lists written on Windows (CRLF) parse line by line ("\r\n" is one Swift Character: it was one row).
    @Test func csvWithCRLFLineEnds() throws {
        let tmp = try TempDir("data")
        #expect(
            try readList("/v/a.mp4, 1\r\n/v/b b.mp4,2\r\n\r\n# note\r\n/v/c.mp4 3\r\n", at: tmp.sub("win.csv")) == [
                VideoSample(path: "/v/a.mp4", label: 1), VideoSample(path: "/v/b b.mp4", label: 2),
                VideoSample(path: "/v/c.mp4", label: 3)
            ])
    }

    /// Folder scans take the containers users keep video in, QuickTime and MPEG streams included.
    @Test func scanTakesEveryVideoContainer() throws {
        let tmp = try TempDir("data")
        let names = [
            "a.mov", "b.M4V", "c.mpg", "d.ts", "e.m2ts", "f.flv", "g.wmv", "h.ogv", "i.3gp", "j.mpeg", "k.mxf", "l.txt",
            "m.srt"
        ]
        for n in names { _ = FileManager.default.createFile(atPath: tmp.sub(n), contents: Data()) }
        #expect(
            try VideoList.scan(dirs: [tmp.path]).map { ($0.path as NSString).lastPathComponent }
                == Array(names.prefix(11)))
    }

    @Test func csvMalformedLineNamesFileAndLine() throws {
        let tmp = try TempDir("data")
        let bad = tmp.sub("bad.csv")
        try "/v/a.mp4, 1\n/v/b.mp4, cat\n".write(toFile: bad, atomically: true, encoding: .utf8)
        #expect { try VideoList.readCSV(path: bad) } throws: { "\($0)".contains("\(bad):2") && "\($0)".contains("cat") }
        try "lonelypath\n".write(toFile: bad, atomically: true, encoding: .utf8)
        #expect { try VideoList.readCSV(path: bad) } throws: { "\($0)".contains("\(bad):1") }
        #expect { try VideoList.readCSV(path: tmp.sub("missing.csv")) } throws: { "\($0)".contains("missing.csv") }
    }

    @Test func dataFracKeepsSeededSubsetInOrder() throws {
        let all = (0 ..< 10).map { VideoSample(path: "/v/\($0).mp4", label: $0 % 3) }
        let a = try VideoList.dataFrac(all, 0.25, seed: 1)
        #expect(a.count == 3)  // ⌈2.5⌉
        #expect(a == a.sorted { $0.path < $1.path })
        #expect(Set(a).isSubset(of: Set(all)))
        #expect(try VideoList.dataFrac(all, 0.25, seed: 1) == a)
        #expect(try VideoList.dataFrac(all, 1) == all)
        #expect(try VideoList.dataFrac(all, 0.01).count == 1)
        #expect(throws: DatasetError.self) { try VideoList.dataFrac(all, 0) }
    }
}

/// Writes `text` to `path` and reads it back as a video list.
private func readList(_ text: String, at path: String) throws -> [VideoSample] {
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return try VideoList.readCSV(path: path)
}
