// Video file lists: folder scans and `path, label` list files.
import Foundation

/// One labelled video file.
public struct VideoSample: Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var label: Int

    public init(path: String, label: Int) {
        self.path = path
        self.label = label
    }

    public var description: String { "\(path), \(label)" }
}

/// Building and persisting lists of `VideoSample`s.
public enum VideoList {
    /// Extensions recognised as videos (compared case-insensitively): the containers FFmpeg demuxes that video is kept
    /// in — MP4/QuickTime family, Matroska/WebM, AVI, MPEG program/transport streams, Flash, ASF, Ogg, 3GPP, MXF.
    public static let videoExtensions: Set<String> = [
        "mp4", "m4v", "mov", "qt", "mkv", "webm", "avi", "mpg", "mpeg", "m2v",
        "vob", "ts", "m2ts", "mts", "flv", "wmv", "asf", "ogv", "3gp", "3g2", "mxf"
    ]

    /// Extensions recognised as still images (JPEG, PNG).
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    /// Whether `path` has a video extension.
    public static func isVideo(_ path: String) -> Bool {
        videoExtensions.contains((path as NSString).pathExtension.lowercased())
    }

    /// Whether `path` has an image extension.
    public static func isImage(_ path: String) -> Bool {
        imageExtensions.contains((path as NSString).pathExtension.lowercased())
    }

    // MARK: - Scanning

    /// Recursively finds the videos under `dirs`, sorted by path.
    ///
    /// A directory laid out with one sub-folder per class (it has sub-folders and no videos
    /// directly inside) labels each file by the index of its class folder in `classNames(dirs:)`;
    /// videos in other directories get label 0. Hidden files and folders are ignored.
    /// - Throws: `DatasetError` naming a directory that is missing or not a directory.
    /// With `images`, JPEG/PNG files are listed instead of videos (image class folders).
    /// `classes`: the class list that fixes the labels (training's, for validation and evaluation folders); a class
    /// folder not in it is an error. Default: the folders' own sorted class names.
    public static func scan(dirs: [String], images: Bool = false, classes fixed: [String]? = nil) throws
        -> [VideoSample]
    {
        let accept: (String) -> Bool = images ? isImage : isVideo
        let classes = try fixed ?? classNames(dirs: dirs, images: images)
        let labelOf = Dictionary(classes.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var samples: [VideoSample] = []
        for dir in dirs {
            let root = normalized(dir)
            let layout = try classFolders(root, accept)
            if let layout, fixed != nil, let unknown = layout.first(where: { labelOf[$0] == nil }) {
                throw DatasetError(
                    "\(root): class folder '\(unknown)' is not one of the \(classes.count) training classes "
                        + "(\(classes.prefix(8).joined(separator: ", "))\(classes.count > 8 ? ", …" : ""))")
            }
            for relative in try mediaFiles(under: root, accept) {
                let label = layout == nil ? 0 : labelOf[String(relative.split(separator: "/")[0])] ?? 0
                samples.append(VideoSample(path: root + "/" + relative, label: label))
            }
        }
        return samples.sorted { $0.path < $1.path }
    }

    /// The sorted union of class-folder names of the `dirs` that have a class layout (empty if none).
    /// Label `i` of `scan(dirs:)` is `classNames(dirs:)[i]`.
    public static func classNames(dirs: [String], images: Bool = false) throws -> [String] {
        var names = Set<String>()
        for dir in dirs { names.formUnion(try classFolders(normalized(dir), images ? isImage : isVideo) ?? []) }
        return names.sorted()
    }

    /// Sub-folder names if `dir` has a class layout, else nil.
    private static func classFolders(_ dir: String, _ accept: (String) -> Bool = isVideo) throws -> [String]? {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: dir, isDirectory: &isDir) else {
            throw DatasetError("\(dir): no such directory")
        }
        guard isDir.boolValue else { throw DatasetError("\(dir): not a directory") }
        let entries: [String]
        do {
            entries = try fm.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }
        } catch {
            throw DatasetError("\(dir): cannot list directory: \(error.localizedDescription)")
        }
        var folders: [String] = []
        for e in entries {
            var sub: ObjCBool = false
            if fm.fileExists(atPath: dir + "/" + e, isDirectory: &sub), sub.boolValue {
                folders.append(e)
            } else if accept(e) {
                return nil
            }
        }
        return folders.isEmpty ? nil : folders.sorted()
    }

    /// Relative paths of the non-hidden accepted (video or image) files under `dir`, any depth.
    private static func mediaFiles(under dir: String, _ accept: (String) -> Bool) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: dir) else {
            throw DatasetError("\(dir): cannot list directory")
        }
        var found: [String] = []
        while let relative = walker.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if name.hasPrefix(".") {
                if (walker.fileAttributes?[.type] as? FileAttributeType) == .typeDirectory { walker.skipDescendants() }
                continue
            }
            if accept(name), (walker.fileAttributes?[.type] as? FileAttributeType) != .typeDirectory {
                found.append(relative)
            }
        }
        return found
    }

    private static func normalized(_ dir: String) -> String {
        var d = (dir as NSString).expandingTildeInPath
        while d.count > 1 && d.hasSuffix("/") { d.removeLast() }
        return d
    }

    /// Samples from `source`: a list file (`readCSV`) or a directory (`scan`; images with `images`); `classes` fixes
    /// a folder's labels (see `scan`).
    public static func samples(from source: String, images: Bool = false, classes: [String]? = nil) throws
        -> [VideoSample]
    {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDir) else {
            throw DatasetError("\(source): no such file or directory")
        }
        return isDir.boolValue ? try scan(dirs: [source], images: images, classes: classes) : try readCSV(path: source)
    }

    // MARK: - List files

    /// Writes `samples` as `path, label` lines (optimized-stmae's `train.csv` format),
    /// atomically: a temporary file in the same directory is renamed over `path`.
    public static func writeCSV(_ samples: [VideoSample], to path: String) throws {
        var text = ""
        for s in samples {
            guard !s.path.contains("\n") else { throw DatasetError("\(s.path): path contains a newline") }
            text += "\(s.path), \(s.label)\n"
        }
        let dir = (path as NSString).deletingLastPathComponent
        let temp =
            (dir.isEmpty ? "" : dir + "/")
            + ".\((path as NSString).lastPathComponent).\(getpid()).\(UInt32.random(in: 0 ... .max)).tmp"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: temp))
        } catch {
            throw DatasetError("\(path): cannot write list: \(error.localizedDescription)")
        }
        if rename(temp, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            throw DatasetError("\(path): cannot write list: \(reason)")
        }
    }

    /// Reads a list file with one `path, label`, `path,label` or `path label` (mae_st) entry per line.
    ///
    /// Blank lines and lines starting with `#` are skipped. The label follows the last comma, or
    /// else the last run of whitespace, so paths may contain spaces. Relative paths are resolved
    /// against `relativeTo` (default: the list file's directory).
    /// - Throws: `DatasetError` naming the file and line of a malformed entry.
    public static func readCSV(path: String, relativeTo base: String? = nil) throws -> [VideoSample] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw DatasetError("\(path): cannot read list: \(error.localizedDescription)")
        }
        let baseDir = base ?? (path as NSString).deletingLastPathComponent
        var samples: [VideoSample] = []
        // `isNewline`: "\r\n" is one Character in Swift, so splitting on "\n" alone leaves CRLF files one line
        for (n, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let (file, label) = parseLine(line) else {
                throw DatasetError("\(path):\(n + 1): expected `path, label` or `path label`, got \"\(line)\"")
            }
            let resolved = file.hasPrefix("/") || baseDir.isEmpty ? file : baseDir + "/" + file
            samples.append(VideoSample(path: resolved, label: label))
        }
        return samples
    }

    private static func parseLine(_ line: String) -> (String, Int)? {
        let cut: Range<String.Index>?
        if let comma = line.range(of: ",", options: .backwards) {
            cut = comma
        } else {
            cut = line.rangeOfCharacter(from: .whitespaces, options: .backwards)
        }
        guard let cut else { return nil }
        let file = line[..<cut.lowerBound].trimmingCharacters(in: .whitespaces)
        let labelText = line[cut.upperBound...].trimmingCharacters(in: .whitespaces)
        guard !file.isEmpty, let label = Int(labelText), label >= 0 else { return nil }
        return (file, label)
    }

    // MARK: - Subsets

    /// Few-shot subset (`--frac_retained`): per class, the first ⌈frac·n_c⌉ (at least 1) of a permutation seeded
    /// by (`seed`, class), returned in the original order.
    public static func retainPerClass(_ samples: [VideoSample], _ frac: Double, seed: UInt64 = 0) throws
        -> [VideoSample]
    {
        guard frac > 0, frac <= 1, frac.isFinite else {
            throw DatasetError("--frac_retained must be in (0, 1], got \(frac)")
        }
        if frac >= 1 { return samples }
        var keep = Set<Int>()
        let byClass = Dictionary(grouping: samples.indices, by: { samples[$0].label })
        for (label, members) in byClass {
            var rng = SampleRNG(keys: [seed, 0xF5A0_7E7A, UInt64(bitPattern: Int64(label))])
            let k = max(Int((frac * Double(members.count)).rounded(.up)), 1)
            for j in rng.permutation(members.count).prefix(k) { keep.insert(members[j]) }
        }
        return samples.indices.filter(keep.contains).map { samples[$0] }
    }

    /// A `frac` subset: the first ⌈frac·n⌉ samples of a permutation seeded by `seed`, returned
    /// in their original order. `frac` ≥ 1 keeps everything.
    public static func dataFrac(_ samples: [VideoSample], _ frac: Double, seed: UInt64 = 0) throws -> [VideoSample] {
        guard frac > 0, frac.isFinite else { throw DatasetError("dataFrac must be in (0, 1], got \(frac)") }
        if frac >= 1 { return samples }
        var rng = SampleRNG(keys: [seed, 0xDA7A_F2AC])
        let keep = Int((frac * Double(samples.count)).rounded(.up))
        return rng.permutation(samples.count).prefix(keep).sorted().map { samples[$0] }
    }
}
