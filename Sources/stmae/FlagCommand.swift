import ArgumentParser
import Training

/// A subcommand whose flags are its settings struct's `ConfigFlags` table (as `pretrain`): the arguments are captured
/// as given, parsed onto the struct's defaults and validated before any work; `--help` lists every flag with its
/// default.
protocol FlagCommand: ParsableCommand {
    associatedtype Settings: FlagSettings
    var arguments: [String] { get }
    /// The settings this subcommand starts from (flags override them; `--help` lists them): `Settings()` by default.
    static var defaults: Settings { get }
}

/// The help of a flag command's captured arguments.
let flagsHelp: ArgumentHelp = "--flag value … (see the list below)"

extension FlagCommand {
    static var defaults: Settings { Settings() }

    /// The configuration of a flag command: its name, abstract and `--help` flag list (ArgumentParser's help off).
    static func command(_ name: String?, _ abstract: String, intro: String = "") -> CommandConfiguration {
        CommandConfiguration(commandName: name, abstract: abstract, discussion: flagList(intro), helpNames: [])
    }

    /// The `--help` text after the abstract: `intro`, then every flag with its default.
    static func flagList(_ intro: String = "") -> String {
        (intro.isEmpty ? "" : intro + "\n") + "Flags and defaults:\n" + Settings.flags.usage(defaults: defaults)
    }

    /// The validated settings of this invocation, or nil after printing `--help`. `parse` reads the arguments (the
    /// table's by default).
    func settings(_ args: [String]? = nil, parse: ([String]) throws -> Settings = Settings.parse) throws -> Settings? {
        let args = args ?? arguments
        if args.contains("--help") || args.contains("-h") {
            print(Self.helpMessage())
            return nil
        }
        do { return try parse(args) } catch let e as ValidationError { throw e } catch {
            throw ValidationError("\(error)")
        }
    }
}

/// A flag command whose work needs only its validated settings: `run(_:)` gets them (`--help` printed instead).
protocol SettingsCommand: FlagCommand {
    associatedtype Settings  // restated: inferred from the parameter of `run(_:)`
    func run(_ settings: Settings) throws
}

extension SettingsCommand {
    func run() throws {
        guard let s = try settings() else { return }
        try run(s)
    }
}
