import ArgumentParser
import Foundation
import GatewayModel
import NIOHTTP1

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Import or export the whole configuration as a Kong declarative document (kong.yaml).",
        subcommands: [Import.self, Export.self]
    )

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace the configuration with a declarative file (YAML or JSON), atomically.")

        @Argument(help: "The declarative file (_format_version \"3.0\"); '-' reads standard input.")
        var file: String

        @Flag(help: ArgumentHelp(Environment.help("Do nothing when the file equals the current configuration", "check-hash")))
        var checkHash: Bool = Environment.value("check-hash") != nil

        @OptionGroup var admin: AdminOptions

        func run() async throws {
            let data: Data
            do {
                data = self.file == "-" ? FileHandle.standardInput.readDataToEndOfFile()
                    : try Data(contentsOf: URL(fileURLWithPath: self.file))
            } catch {
                throw CLIError("cannot read \(self.file): \(error.localizedDescription)")
            }
            let client = AdminClient(options: self.admin)
            let isJSON = self.file.hasSuffix(".json")
            let path = self.checkHash ? "/config?check_hash=1" : "/config"
            let reply = try client.check(await client.send(
                .POST, path, body: Array(data), contentType: isJSON ? "application/json" : "application/yaml"))
            if reply.status == 304 {
                Output.write("configuration unchanged\n")
                return
            }
            if let json = reply.json, let v = json["version"]?.intValue, let h = json["hash"]?.stringValue {
                Output.write("imported \(self.file): version \(v), hash \(h)\n")
                if let counts = json["counts"]?.objectValue {
                    for k in counts.keys.sorted() { Output.write("  \(k): \(counts[k]?.intValue ?? 0)\n") }
                }
            } else {
                Output.write(reply.text + "\n")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the current configuration as a declarative document.")

        @Option(help: ArgumentHelp(Environment.help("yaml or json", "format")))
        var format: String = Environment.string("format", default: "yaml")

        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
        var output: String?

        @OptionGroup var admin: AdminOptions

        func validate() throws {
            guard ["yaml", "json"].contains(self.format) else { throw ValidationError("--format must be yaml or json") }
        }

        func run() async throws {
            let client = AdminClient(options: self.admin)
            let reply = try client.check(await client.send(.GET, "/config?format=\(self.format)"))
            if let output {
                do {
                    try Data(reply.body).write(to: URL(fileURLWithPath: output), options: .atomic)
                } catch {
                    throw CLIError("cannot write \(output): \(error.localizedDescription)")
                }
            } else {
                Output.write(reply.text)
            }
        }
    }
}
