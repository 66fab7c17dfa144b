import ArgumentParser
import Training

/// A subcommand whose flags are its settings struct's `ConfigFlags` table (as `pretrain`): the arguments are captured
/// as given, parsed onto the struct's defaults and validated before any work; `--help` lists every flag with its
/// default.
protocol FlagCommand: ParsableCommand {
    associatedtype Settings: FlagSettings
    var arguments: [String] { get }
}

extension FlagCommand {
    /// The `--help` text after the abstract: `intro`, then every flag with its default.
    static func flagList(_ intro: String = "") -> String {
        (intro.isEmpty ? "" : intro + "\n") + "Flags and defaults:\n" + Settings.usage
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
