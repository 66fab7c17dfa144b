import Foundation
import Models

/// A value a flag can carry: parsed from the words after `--name`, shown in `--help`.
public protocol FlagValue {
    /// `words`: what followed the flag up to the next `--flag` (or its `=value`); errors name `flag`.
    static func parse(_ words: [String], flag: String) throws -> Self
    var shown: String { get }
}

extension Bool: FlagValue {
    public static func parse(_ words: [String], flag: String) throws -> Bool {
        if words.isEmpty { return true }
        guard words.count == 1, let b = ["true": true, "1": true, "false": false, "0": false][words[0].lowercased()]
        else {
            throw ConfigError("\(flag) expects true or false, got '\(words.joined(separator: " "))'")
        }
        return b
    }
    public var shown: String { "\(self)" }
}

extension Int: FlagValue {
    public static func parse(_ words: [String], flag: String) throws -> Int {
        let w = try one(words, flag)
        guard let n = Int(w) else { throw ConfigError("\(flag) expects an integer, got '\(w)'") }
        return n
    }
    public var shown: String { "\(self)" }
}

extension Double: FlagValue {
    public static func parse(_ words: [String], flag: String) throws -> Double {
        let w = try one(words, flag)
        guard let d = Double(w), d.isFinite else { throw ConfigError("\(flag) expects a number, got '\(w)'") }
        return d
    }
    public var shown: String { "\(self)" }
}

extension String: FlagValue {
    public static func parse(_ words: [String], flag: String) throws -> String { try one(words, flag) }
    public var shown: String { isEmpty ? "\"\"" : self }
}

extension Array: FlagValue where Element: FlagValue {
    public static func parse(_ words: [String], flag: String) throws -> [Element] {
        do { return try words.map { try Element.parse([$0], flag: flag) } } catch {
            throw ConfigError(
                "\(flag) expects \(Element.self == Double.self ? "numbers" : "values"), "
                    + "got '\(words.joined(separator: " "))'"
            )
        }
    }
    public var shown: String { isEmpty ? "(none)" : map(\.shown).joined(separator: " ") }
}

private func one(_ words: [String], _ flag: String) throws -> String {
    guard words.count == 1 else { throw ConfigError("\(flag) expects one value, got \(words.count)") }
    return words[0]
}

/// The values a setting accepts: a test and its wording for the error ("--epochs must be > 0, got 0").
public struct Valid<T> {
    let test: (T) -> Bool
    let wording: String
    public init(_ wording: String, _ test: @escaping (T) -> Bool) { self.wording = wording; self.test = test }
}

extension Valid where T: Comparable & FlagValue {
    public static func atLeast(_ v: T) -> Valid { Valid("≥ \(v.shown)") { $0 >= v } }
    public static func above(_ v: T) -> Valid { Valid("> \(v.shown)") { $0 > v } }
    /// [a, b]
    public static func within(_ r: ClosedRange<T>) -> Valid {
        Valid("in [\(r.lowerBound.shown), \(r.upperBound.shown)]") { r.contains($0) }
    }
    /// [a, b)
    public static func within(_ r: Range<T>) -> Valid {
        Valid("in [\(r.lowerBound.shown), \(r.upperBound.shown))") { r.contains($0) }
    }
    /// (a, b]
    public static func above(_ a: T, upTo b: T) -> Valid { Valid("in (\(a.shown), \(b.shown)]") { $0 > a && $0 <= b } }
}

extension Valid where T == [Double] {
    /// `count` values, each > 0.
    public static func positives(_ count: Int) -> Valid {
        Valid("\(count) values > 0") { $0.count == count && $0.allSatisfy { $0 > 0 } }
    }
    /// A range `lo hi` with 0 < lo ≤ hi.
    public static var interval: Valid {
        Valid("two values lo hi with 0 < lo ≤ hi") { $0.count == 2 && $0[0] > 0 && $0[0] <= $0[1] }
    }
    /// `count` values.
    public static func count(_ n: Int) -> Valid { Valid("\(n) values") { $0.count == n } }
}

/// One command-line setting: `--name` (or an alias) writes one stored property of the settings struct, typed, and
/// says which values it accepts.
public struct ConfigFlag<Config> {
    public let name: String
    public let aliases: [String]
    public let help: String
    let isBool: Bool
    let apply: (inout Config, [String], String) throws -> Void
    let show: (Config) -> String
    /// nil if the setting's value in `Config` is acceptable, else why not.
    let check: (Config) -> String?

    /// `--name value`, written to `keyPath`, accepted when `valid` (default: any). Bool settings: `--name`,
    /// `--name true|false`, `--no_name`.
    public static func option<T: FlagValue>(
        _ name: String, _ keyPath: WritableKeyPath<Config, T>, _ valid: Valid<T>?,
        _ help: String = "", aliases: [String] = []
    ) -> ConfigFlag {
        ConfigFlag(
            name: name, aliases: aliases, help: help, isBool: T.self == Bool.self,
            apply: { c, words, flag in c[keyPath: keyPath] = try T.parse(words, flag: flag) },
            show: { $0[keyPath: keyPath].shown },
            check: { c in
                let v = c[keyPath: keyPath]
                guard let valid, !valid.test(v) else { return nil }
                return "--\(name) must be \(valid.wording), got \(v.shown)"
            })
    }

    /// `option` without a constraint.
    public static func option<T: FlagValue>(
        _ name: String, _ keyPath: WritableKeyPath<Config, T>, _ help: String = "",
        aliases: [String] = []
    ) -> ConfigFlag {
        option(name, keyPath, nil, help, aliases: aliases)
    }

    /// A switch that takes no value and sets `keyPath` to `value` (e.g. mae's `--cls_token`: global_pool false).
    public static func setting<T: FlagValue>(
        _ name: String, _ keyPath: WritableKeyPath<Config, T>, to value: T, _ help: String
    ) -> ConfigFlag {
        ConfigFlag(
            name: name, aliases: [], help: help, isBool: false,
            apply: { c, words, flag in
                guard words.isEmpty else { throw ConfigError("\(flag) takes no value") }
                c[keyPath: keyPath] = value
            }, show: { _ in "" }, check: { _ in nil })
    }
}

extension ConfigFlag {
    /// A switch that upstream command lines pass and that changes nothing here (mae_st `--no_env`: skip its cluster
    /// set-up), accepted so that those lines run verbatim; `--help` says why it does nothing.
    public static func noOp(_ name: String, _ help: String) -> ConfigFlag {
        ConfigFlag(
            name: name, aliases: [], help: help, isBool: false,
            apply: { _, words, flag in
                guard words.isEmpty else { throw ConfigError("\(flag) takes no value") }
            }, show: { _ in "" }, check: { _ in nil })
    }
}

/// mae_st-style flags over a settings struct: one typed `ConfigFlag` per setting (`--snake_case` names, the struct's
/// JSON keys), applied onto a base value (the defaults, or a checkpoint's settings). nanoGPT-like: the defaults live in
/// the struct, nowhere else; `--help` shows them from it.
///
/// `--flag value`, `--flag=value`; Bool: `--flag`, `--flag true|false`, `--no_flag`; lists: `--flag v1 v2 …`;
/// `-` in a name reads as `_`; negative numbers after a space (`--seed -1`).
public struct ConfigFlags<Config> {
    public let fields: [ConfigFlag<Config>]
    let byName: [String: Int]

    public init(_ fields: [ConfigFlag<Config>]) {
        self.fields = fields
        var byName: [String: Int] = [:]
        for (i, f) in fields.enumerated() {
            for n in [f.name] + f.aliases {
                precondition(byName[n] == nil, "flag --\(n) declared twice")
                byName[n] = i
            }
        }
        self.byName = byName
    }

    /// `base` with `args` applied. Errors name the flag and what was expected.
    public func parse(_ args: [String], onto base: Config) throws -> Config {
        try parseNamingGiven(args, onto: base).config
    }

    /// `base` with `args` applied, and the names of the settings the arguments gave (for logging overrides).
    public func parseNamingGiven(_ args: [String], onto base: Config) throws -> (config: Config, given: [String]) {
        var c = base, given: [String] = [], i = 0
        while i < args.count {
            let arg = args[i]
            guard arg.hasPrefix("--"), arg.count > 2 else {
                throw ConfigError("unexpected argument '\(arg)' (flags look like --name value)")
            }
            var name = String(arg.dropFirst(2)), inline: String?
            if let eq = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: eq)...]); name = String(name[..<eq])
            }
            name = name.replacingOccurrences(of: "-", with: "_")
            var negated = false
            if byName[name] == nil, name.hasPrefix("no_"), let j = byName[String(name.dropFirst(3))], fields[j].isBool {
                name = String(name.dropFirst(3)); negated = true
            }
            guard let j = byName[name] else { throw ConfigError("--\(name): unknown flag\(suggestion(for: name))") }
            var words = inline.map { [$0] } ?? []
            if inline == nil {
                while i + 1 + words.count < args.count, !args[i + 1 + words.count].hasPrefix("--") {
                    words.append(args[i + 1 + words.count])
                }
            }
            i += 1 + (inline == nil ? words.count : 0)
            let f = fields[j]
            if negated {
                guard words.isEmpty else { throw ConfigError("--no_\(name) takes no value") }
                words = ["false"]
            }
            try f.apply(&c, words, "--" + name)
            given.append(f.name)
        }
        return (c, given)
    }

    /// `--name value (was old)` for each setting in `given` whose value in `config` differs from `base`'s.
    public func changes(_ given: [String], from base: Config, to config: Config) -> [String] {
        fields.filter { given.contains($0.name) && $0.show(base) != $0.show(config) }.map {
            "--\($0.name) \($0.show(config)) (was \($0.show(base)))"
        }
    }

    /// `args` over `saved`, the settings a checkpoint was trained with, so that `--resume` alone continues the run;
    /// the flags given that change a setting are logged.
    public func resuming(_ args: [String], saved: Config, from path: String) throws -> Config {
        let (config, given) = try parseNamingGiven(args, onto: saved)
        let changed = changes(given.filter { $0 != "resume" }, from: saved, to: config)
        RunLog.info(
            "--resume \(path): continuing with the checkpoint's settings"
                + (changed.isEmpty ? "" : "; overridden: " + changed.joined(separator: ", ")))
        return config
    }

    /// Every setting's value against what its flag accepts; the first violation is an error naming the flag.
    public func validate(_ c: Config) throws {
        if let why = fields.lazy.compactMap({ $0.check(c) }).first { throw ConfigError(why) }
    }

    private func suggestion(for name: String) -> String {
        let close = fields.map(\.name).filter { $0.contains(name) || name.contains($0) }
        return close.isEmpty ? " (see --help)" : " (did you mean --\(close[0])?)"
    }

    /// One line per flag: name, default (from `defaults`), help and aliases, for `--help`.
    public func usage(defaults: Config) -> String {
        fields.map { f in
            let shown = f.show(defaults)
            let alias = f.aliases.isEmpty ? "" : "(also " + f.aliases.map { "--" + $0 }.joined(separator: ", ") + ")"
            let text = [f.help, alias].filter { !$0.isEmpty }.joined(separator: " ")
            let help = text.isEmpty ? "" : "  — " + text
            return "  --\(f.name)\(shown.isEmpty ? "" : " " + shown)\(help)"
        }.joined(separator: "\n")
    }
}

extension Valid where T == String {
    /// One of `choices` (`""` may be one: "not given").
    public static func oneOf(_ choices: [String]) -> Valid {
        let named = choices.filter { !$0.isEmpty }.joined(separator: " or ")
        return Valid(choices.contains("") ? named + " (or \"\": not given)" : named) { choices.contains($0) }
    }
}

extension Valid where T == [String] {
    /// Each value one of `choices`.
    public static func each(oneOf choices: [String]) -> Valid {
        Valid("each \(choices.joined(separator: " or "))") { $0.allSatisfy(choices.contains) }
    }
}

extension Valid where T == [Int] {
    /// At least one value, each accepted by `element` (e.g. `.each(.above(0))`).
    public static func each(_ element: Valid<Int>) -> Valid {
        Valid("one or more values, each \(element.wording)") { !$0.isEmpty && $0.allSatisfy(element.test) }
    }
}

extension Valid where T == [Double] {
    /// Every value > 0 (any count: the command checks it).
    public static var allPositive: Valid { Valid("values > 0") { $0.allSatisfy { $0 > 0 } } }
}

/// A settings struct of a subcommand whose flags are one `ConfigFlags` table: the defaults are `init()`'s.
public protocol FlagSettings {
    init()
    static var flags: ConfigFlags<Self> { get }
    /// Checks that involve several settings, after each flag's own range; errors name the flags.
    func checkCombination() throws
}

extension FlagSettings {
    public func checkCombination() throws {}

    /// Checks values a user can get wrong, before any work: each flag's range (`flags`), then `checkCombination`;
    /// errors name the flag.
    public func validate() throws {
        try Self.flags.validate(self)
        try checkCombination()
    }

    /// `args` over the defaults, every value validated before any work.
    public static func parse(_ args: [String]) throws -> Self {
        let s = try flags.parse(args, onto: Self())
        try s.validate()
        return s
    }

    /// `--help`'s list: every flag with its default.
    public static var usage: String { flags.usage(defaults: Self()) }
}
