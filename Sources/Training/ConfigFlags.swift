import Foundation
import Models
import NN

/// mae_st-style flags over a settings struct: every stored property `fooBar` is the flag `--foo_bar`
/// (the struct's JSON key), typed by its default. nanoGPT-like: the defaults live in the struct, nowhere else.
///
/// `--flag value`, `--flag=value`; Bool: `--flag`, `--flag true|false`, `--no_flag`; lists: `--flag v1 v2 …`.
public struct ConfigFlags<Config: Codable> {
    enum Kind { case bool, int, double, string, doubles, strings }
    struct Field { let key: String; let kind: Kind; let value: Any }

    let fields: [String: Field]
    let order: [String]
    let aliases: [String: String]
    let defaults: Config

    public init(_ defaults: Config, aliases: [String: String] = [:]) {
        var fields: [String: Field] = [:], order: [String] = []
        for child in Mirror(reflecting: defaults).children {
            guard let label = child.label, let kind = Self.kind(of: child.value) else { continue }
            let key = Self.snakeCase(label)
            fields[key] = Field(key: key, kind: kind, value: child.value)
            order.append(key)
        }
        self.fields = fields
        self.order = order
        self.aliases = aliases
        self.defaults = defaults
    }

    static func kind(of v: Any) -> Kind? {
        // exact types: `is` would also accept an empty [String] as [Double]
        let t = type(of: v)
        let kinds: [(Any.Type, Kind)] = [(Bool.self, .bool), (Int.self, .int), (Double.self, .double), (String.self, .string),
                                         ([Double].self, .doubles), ([String].self, .strings)]
        return kinds.first { $0.0 == t }?.1
    }

    static func snakeCase(_ s: String) -> String { NN.snakeCase(s) }

    /// `defaults` with `args` applied. Errors name the flag and what was expected.
    public func parse(_ args: [String]) throws -> Config {
        var overrides: [String: Any] = [:]
        var i = 0
        func values(after start: Int) -> [String] {
            var j = start, out: [String] = []
            while j < args.count, !args[j].hasPrefix("--") { out.append(args[j]); j += 1 }
            return out
        }
        while i < args.count {
            let arg = args[i]
            guard arg.hasPrefix("--"), arg.count > 2 else { throw ConfigError("unexpected argument '\(arg)' (flags look like --name value)") }
            var name = String(arg.dropFirst(2))
            var inline: String?
            if let eq = name.firstIndex(of: "=") { inline = String(name[name.index(after: eq)...]); name = String(name[..<eq]) }
            name = name.replacingOccurrences(of: "-", with: "_")
            name = aliases[name] ?? name
            var negated = false
            if fields[name] == nil, name.hasPrefix("no_"), fields[String(name.dropFirst(3))]?.kind == .bool {
                name = String(name.dropFirst(3)); negated = true
            }
            guard let field = fields[name] else { throw ConfigError("--\(name): unknown flag\(suggestion(for: name))") }
            var vals = inline.map { [$0] } ?? values(after: i + 1)
            i += 1 + (inline == nil ? vals.count : 0)
            let flag = "--\(name)"
            switch field.kind {
            case .bool:
                if negated {
                    guard vals.isEmpty else { throw ConfigError("--no_\(name) takes no value") }
                    overrides[name] = false
                } else if vals.isEmpty {
                    overrides[name] = true
                } else {
                    guard vals.count == 1, let b = ["true": true, "1": true, "false": false, "0": false][vals[0].lowercased()] else {
                        throw ConfigError("\(flag) expects true or false, got '\(vals.joined(separator: " "))'")
                    }
                    overrides[name] = b
                }
            case .int, .double, .string:
                guard vals.count == 1 else { throw ConfigError("\(flag) expects one value, got \(vals.count)") }
                let v = vals.removeFirst()
                if field.kind == .string { overrides[name] = v; continue }
                if field.kind == .int {
                    guard let n = Int(v) else { throw ConfigError("\(flag) expects an integer, got '\(v)'") }
                    overrides[name] = n
                } else {
                    guard let d = Double(v), d.isFinite else { throw ConfigError("\(flag) expects a number, got '\(v)'") }
                    overrides[name] = d
                }
            case .strings:
                overrides[name] = vals
            case .doubles:
                let ds = vals.map { Double($0) }
                guard ds.allSatisfy({ $0 != nil }) else { throw ConfigError("\(flag) expects numbers, got '\(vals.joined(separator: " "))'") }
                overrides[name] = ds.map { $0! }
            }
        }
        guard var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(defaults)) as? [String: Any] else {
            throw ConfigError("internal: settings do not encode to a JSON object")
        }
        for (k, v) in overrides {
            guard json[k] != nil else { throw ConfigError("--\(k): not a setting of this command") }
            json[k] = v
        }
        return try JSONDecoder().decode(Config.self, from: JSONSerialization.data(withJSONObject: json))
    }

    private func suggestion(for name: String) -> String {
        let close = order.filter { $0.contains(name) || name.contains($0) }
        return close.isEmpty ? " (see --help)" : " (did you mean --\(close[0])?)"
    }

    /// One line per flag with its default, for `--help`.
    public func usage(notes: [String: String] = [:]) -> String {
        order.map { key in
            let v = fields[key]!.value
            let shown: String
            switch v {
            case let a as [String]: shown = a.isEmpty ? "(none)" : a.joined(separator: " ")
            case let a as [Double]: shown = a.map { "\($0)" }.joined(separator: " ")
            case let s as String: shown = s.isEmpty ? "\"\"" : s
            default: shown = "\(v)"
            }
            let note = notes[key].map { "  — " + $0 } ?? ""
            return "  --\(key) \(shown)\(note)"
        }.joined(separator: "\n")
    }
}

