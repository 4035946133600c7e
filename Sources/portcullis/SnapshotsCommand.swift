import ArgumentParser
import Foundation
import GatewayModel
import NIOHTTP1

struct SnapshotsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshots",
        abstract: "Inspect the configuration history, compare versions and roll back.",
        subcommands: [List.self, Show.self, Diff.self, Rollback.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List snapshots, newest first.")

        @Option(help: "How many to show (1-1000).")
        var size: Int = 20

        @Flag(help: "Print the admin API's JSON instead of a table.")
        var json = false

        @OptionGroup var admin: AdminOptions

        func run() async throws {
            let client = AdminClient(options: self.admin)
            let reply = try client.check(await client.send(.GET, "/snapshots?size=\(self.size)"))
            guard let data = reply.json?["data"]?.arrayValue else { throw CLIError("unexpected answer: \(reply.text)") }
            if self.json {
                Output.json(reply.json ?? .null)
                return
            }
            Output.write("VERSION  HASH          CREATED (UTC)         SIZE      ENTITIES  COMMENT\n")
            let formatter = ISO8601DateFormatter()
            for s in data {
                let created = Date(timeIntervalSince1970: s["created_at"]?.doubleValue ?? 0)
                let counts = s["counts"]?.objectValue?.values.compactMap(\.intValue).reduce(0, +) ?? 0
                let line = [
                    String(s["version"]?.intValue ?? 0).padding(toLength: 8, withPad: " ", startingAt: 0),
                    String((s["hash"]?.stringValue ?? "").prefix(12)).padding(toLength: 12, withPad: " ", startingAt: 0),
                    String(formatter.string(from: created).prefix(20)).padding(toLength: 21, withPad: " ", startingAt: 0),
                    String(s["size"]?.intValue ?? 0).padding(toLength: 9, withPad: " ", startingAt: 0),
                    String(counts).padding(toLength: 9, withPad: " ", startingAt: 0),
                    s["comment"]?.stringValue ?? "",
                ].joined(separator: " ")
                Output.write(line + "\n")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one snapshot as a declarative document.")

        @Argument(help: "Snapshot version, or 'latest'.")
        var version: String

        @Option(help: "yaml or json")
        var format: String = "yaml"

        @OptionGroup var admin: AdminOptions

        func run() async throws {
            let client = AdminClient(options: self.admin)
            let reply = try client.check(await client.send(.GET, "/snapshots/\(self.version)?format=\(self.format)"))
            Output.write(reply.text)
        }
    }

    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Entity-level differences from version A to version B.")

        @Argument var from: String
        @Argument var to: String

        @OptionGroup var admin: AdminOptions

        func run() async throws {
            let client = AdminClient(options: self.admin)
            let reply = try client.check(await client.send(.GET, "/snapshots/\(self.from)/diff/\(self.to)"))
            Output.json(reply.json ?? .null)
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make version V's content the current configuration (as a new version).")

        @Argument var version: String

        @OptionGroup var admin: AdminOptions

        func run() async throws {
            let client = AdminClient(options: self.admin)
            let reply = try client.check(await client.send(.POST, "/snapshots/\(self.version)/rollback"))
            let v = reply.json?["version"]?.intValue ?? 0
            let h = reply.json?["hash"]?.stringValue ?? "?"
            Output.write("rolled back to the content of version \(self.version): new version \(v), hash \(h)\n")
        }
    }
}
