import ArgumentParser
import Foundation

@main
struct Portcullis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portcullis",
        abstract: "An API gateway for APIs behind an L7 load balancer that forwards client certificates in a header.",
        discussion: """
            Every option can also be given as an environment variable PORTCULLIS_<OPTION>, e.g. --admin-listen as \
            PORTCULLIS_ADMIN_LISTEN. A flag on the command line wins over the environment.
            """,
        subcommands: [
            UpCommand.self, ControlPlaneCommand.self, DataPlaneCommand.self, ConfigCommand.self, SnapshotsCommand.self,
            VerifyCommand.self,
        ]
    )

    /// ArgumentParser's own entry point, except that `verify` reports usage errors with exit status 2 (its
    /// documented contract: 0 accepted, 1 refused, 2 usage) instead of 64.
    static func main() async {
        do {
            var command = try self.parseAsRoot(self.joiningDashedValues(Array(CommandLine.arguments.dropFirst())))
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            let arguments = CommandLine.arguments.dropFirst()
            if arguments.first == "verify", self.exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((self.fullMessage(for: error) + "\n").utf8))
                self.exit(withError: ExitCode(2))
            }
            self.exit(withError: error)
        }
    }

    /// `verify --header-value -----BEGIN…`: ArgumentParser refuses a separate argument starting with `---` before
    /// any option sees it, so such a value is joined to its option (`--header-value=-----BEGIN…`).
    static func joiningDashedValues(_ arguments: [String]) -> [String] {
        guard arguments.first == "verify" else { return arguments }
        var out: [String] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if ["--header-value", "--chain-value"].contains(argument), i + 1 < arguments.count,
               arguments[i + 1].hasPrefix("-")
            {
                out.append(argument + "=" + arguments[i + 1])
                i += 2
            } else {
                out.append(argument)
                i += 1
            }
        }
        return out
    }
}
