/// Minimal JSON tree with ordered object keys and numbers kept as text (so integers are parsed exactly).
enum JSON: Equatable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case let (.bool(x), .bool(y)): x == y
        case let (.number(x), .number(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.array(x), .array(y)): x == y
        case let (.object(x), .object(y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// The value as an exact integer, if it is an integral JSON number that fits in `Int`.
    var int: Int? {
        guard case .number(let s) = self else { return nil }
        return Int(s)
    }

    /// Serialises compactly (no spaces), preserving key order.
    var text: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let s): out += s
        case .string(let s): JSON.quote(s, into: &out)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() { if i > 0 { out += "," }; v.write(to: &out) }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, (k, v)) in o.enumerated() {
                if i > 0 { out += "," }
                JSON.quote(k, into: &out)
                out += ":"
                v.write(to: &out)
            }
            out += "}"
        }
    }

    private static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }

    /// Parses one JSON document (trailing whitespace allowed). Throws a message-only error string on failure.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSON {
        var p = JSONParser(b: bytes)
        p.skipWS()
        let v = try p.value(depth: 0)
        p.skipWS()
        guard p.i == bytes.count else { throw p.fail("unexpected trailing data") }
        return v
    }
}

struct JSONParseError: Error { let message: String }

private struct JSONParser {
    let b: UnsafeRawBufferPointer
    var i = 0

    func fail(_ what: String) -> JSONParseError { JSONParseError(message: "\(what) at byte \(i)") }

    mutating func skipWS() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    mutating func expect(_ lit: String) throws(JSONParseError) {
        for c in lit.utf8 {
            guard i < b.count, b[i] == c else { throw fail("invalid literal") }
            i += 1
        }
    }

    /// The comma-separated items after an opening bracket (at `i`) up to `close`: `[]`, `[a]`, `[a, b]`.
    mutating func list<T>(
        close: Unicode.Scalar, what: String, _ item: (inout JSONParser) throws(JSONParseError) -> T
    ) throws(JSONParseError) -> [T] {
        i += 1
        var items: [T] = []
        skipWS()
        if i < b.count, b[i] == UInt8(ascii: close) {
            i += 1
            return items
        }
        while true {
            skipWS()
            items.append(try item(&self))
            skipWS()
            guard i < b.count else { throw fail("unterminated \(what)") }
            if b[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            guard b[i] == UInt8(ascii: close) else { throw fail("expected ',' or '\(close)'") }
            i += 1
            return items
        }
    }

    mutating func value(depth: Int) throws(JSONParseError) -> JSON {
        guard depth < 64 else { throw fail("nesting too deep") }
        guard i < b.count else { throw fail("unexpected end of JSON") }
        switch b[i] {
        case UInt8(ascii: "{"):
            return .object(
                try list(close: "}", what: "object") { (p: inout JSONParser) throws(JSONParseError) in
                    guard p.i < p.b.count, p.b[p.i] == UInt8(ascii: "\"") else { throw p.fail("expected object key") }
                    let k = try p.string()
                    p.skipWS()
                    guard p.i < p.b.count, p.b[p.i] == UInt8(ascii: ":") else { throw p.fail("expected ':'") }
                    p.i += 1
                    p.skipWS()
                    return (k, try p.value(depth: depth + 1))
                })
        case UInt8(ascii: "["):
            return .array(
                try list(close: "]", what: "array") { (p: inout JSONParser) throws(JSONParseError) in
                    try p.value(depth: depth + 1)
                })
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        default:
            let start = i
            while i < b.count, "+-0123456789.eE".utf8.contains(b[i]) { i += 1 }
            guard i > start else { throw fail("unexpected character") }
            let s = String(decoding: b[start ..< i], as: UTF8.self)
            guard Double(s) != nil else { throw fail("invalid number '\(s)'") }
            return .number(s)
        }
    }

    mutating func string() throws(JSONParseError) -> String {
        i += 1
        var bytes: [UInt8] = []
        while true {
            guard i < b.count else { throw fail("unterminated string") }
            let c = b[i]
            i += 1
            if c == UInt8(ascii: "\"") { break }
            if c < 0x20 { throw fail("control character in string") }
            if c != UInt8(ascii: "\\") { bytes.append(c); continue }
            guard i < b.count else { throw fail("unterminated escape") }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(e)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800 ..< 0xDC00).contains(code) {
                    guard i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else {
                        throw fail("unpaired surrogate")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00 ..< 0xE000).contains(low) else { throw fail("invalid surrogate pair") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let u = Unicode.Scalar(code) else { throw fail("invalid \\u escape") }
                bytes.append(contentsOf: Array(String(Character(u)).utf8))
            default: throw fail("invalid escape")
            }
        }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw fail("invalid UTF-8 in string") }
        return s
    }

    mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard i + 4 <= b.count, let v = UInt32(String(decoding: b[i ..< (i + 4)], as: UTF8.self), radix: 16) else {
            throw fail("invalid \\u escape")
        }
        i += 4
        return v
    }
}
