import ArgumentParser
import Logging

/// `--log-level`, shared by the long-running commands, and the one place logging is bootstrapped.
struct LoggingOptions: ParsableArguments {
    @Option(help: ArgumentHelp(Environment.help("Log level: trace, debug, info, notice, warning, error", "log-level")))
    var logLevel: String = Environment.string("log-level", default: "info")

    func validate() throws {
        guard Logger.Level(rawValue: self.logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    /// Logs to standard error at the chosen level; returns the command's logger.
    func bootstrap(label: String) -> Logger {
        let level = Logger.Level(rawValue: self.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}
