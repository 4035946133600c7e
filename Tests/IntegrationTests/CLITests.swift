import Foundation
import GatewayModel
import Testing

/// The admin API's command-line clients (`config …`, `snapshots …`) against a real control plane.
@Suite("CLI end to end")
struct CLITests {
    struct CLI {
        let baseURL: String

        /// Runs `portcullis ARGS --admin-url URL` and requires exit status 0.
        @discardableResult
        func run(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
            let result = try await Subprocess.run(try Paths.binary(), args + ["--admin-url", self.baseURL])
            try #require(result.status == 0 && result.exitedNormally, "portcullis \(args): \(result)",
                         sourceLocation: sourceLocation)
            return result.stdout
        }
    }

    /// "imported FILE: version V, hash H" → (V, H).
    static func parseImport(_ output: String) throws -> (Int64, String) {
        let line = try #require(output.split(separator: "\n").first { $0.hasPrefix("imported ") })
        let version = try #require(line.range(of: "version ").map {
            Int64(line[$0.upperBound...].prefix { $0.isNumber })
        } ?? nil)
        let hash = try #require(line.range(of: "hash ").map { String(line[$0.upperBound...]) })
        return (version, hash.trimmingCharacters(in: .whitespaces))
    }

    @Test("config import / --check-hash / export; snapshots list / show / diff / rollback")
    func endToEnd() async throws {
        let dir = try TempDir()
        let cp = try await ControlPlaneProcess.start(in: dir)
        let admin = cp.admin()
        let cli = CLI(baseURL: cp.baseURL)
        let example = try Paths.example("alb-mtls.yaml").path

        // A first state to come back to: one service, materialised as a snapshot.
        try await admin.expect(201, "POST", "/services", body: #"{"name":"before","url":"http://127.0.0.1:9002"}"#)
        let before = try #require(try await admin.waitInSync()["configuration_version"]?.intValue)

        // config import, then --check-hash: unchanged.
        let importOutput = try await cli.run(["config", "import", example])
        let (imported, hash) = try Self.parseImport(importOutput)
        #expect(imported > before)
        #expect(hash.count == 64)
        #expect(importOutput.contains("services: 1"), "\(importOutput)")
        #expect(importOutput.contains("routes: 2"), "\(importOutput)")
        #expect(try await cli.run(["config", "import", example, "--check-hash"]).contains("configuration unchanged"))
        #expect(try await admin.names("/services") == ["echo-svc"])
        let status = try await admin.waitInSync()
        #expect(status["configuration_hash"]?.stringValue == hash)

        // config export --format json: valid JSON that re-imports to the same hash.
        let stdoutExport = try await cli.run(["config", "export", "--format", "json"])
        let exported = try JSONParser.parse(stdoutExport)
        #expect(exported["_format_version"]?.stringValue == "3.0")
        let jsonFile = dir.path("exported.json")
        try await cli.run(["config", "export", "--format", "json", "-o", jsonFile])
        let fileExport = try JSONParser.parse(try String(contentsOfFile: jsonFile, encoding: .utf8))
        #expect(fileExport == exported)
        #expect(try await cli.run(["config", "import", jsonFile, "--check-hash"]).contains("configuration unchanged"))
        let (reimported, rehash) = try Self.parseImport(try await cli.run(["config", "import", jsonFile]))
        #expect(reimported > imported)
        #expect(rehash == hash)
        // The YAML export parses back to the same configuration too.
        let yamlFile = dir.path("exported.yaml")
        try await cli.run(["config", "export", "-o", yamlFile])
        #expect(try await cli.run(["config", "import", yamlFile, "--check-hash"]).contains("configuration unchanged"))
        let latest = try #require(try await admin.waitInSync()["configuration_version"]?.intValue)

        // snapshots list: a table with the snapshot of `before` and the newest; --json has the same versions.
        let table = try await cli.run(["snapshots", "list"])
        #expect(table.hasPrefix("VERSION"))
        let listed = Set(table.split(separator: "\n").dropFirst().compactMap { Int64($0.prefix { $0.isNumber }) })
        #expect(listed.contains(before), "\(table)")
        #expect(listed.contains(latest), "\(table)")
        let listJSON = try JSONParser.parse(try await cli.run(["snapshots", "list", "--json"]))
        let jsonVersions = Set((listJSON["data"]?.arrayValue ?? []).compactMap { $0["version"]?.intValue })
        #expect(jsonVersions == listed)

        // snapshots show: the declarative document of that version.
        let shown = try JSONParser.parse(try await cli.run(["snapshots", "show", String(before), "--format", "json"]))
        #expect((shown["services"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue } == ["before"])
        let shownYAML = try await cli.run(["snapshots", "show", "latest"])
        #expect(shownYAML.contains("echo-svc"))

        // snapshots diff: from `before` to the newest, the example's entities were added and `before` removed.
        let diff = try JSONParser.parse(try await cli.run(["snapshots", "diff", String(before), String(latest)]))
        #expect(diff["summary"]?["added"]?.intValue == 6, "\(JSONWriter.string(diff))")  // CA, service, 2 routes, plugin, consumer
        #expect(diff["summary"]?["removed"]?.intValue == 1)
        #expect((diff["removed"]?["services"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue } == ["before"])
        #expect(diff["from"]?["version"]?.intValue == before)
        #expect(diff["to"]?["version"]?.intValue == latest)

        // snapshots rollback: GET /services shows the rolled-back content.
        let rollback = try await cli.run(["snapshots", "rollback", String(before)])
        #expect(rollback.contains("rolled back to the content of version \(before)"), "\(rollback)")
        #expect(try await admin.names("/services") == ["before"])
        #expect(try await admin.names("/routes").isEmpty)
        #expect(try await admin.names("/consumers", key: "username").isEmpty)

        // A failing command exits non-zero with the server's message.
        let missing = try await Subprocess.run(
            try Paths.binary(), ["snapshots", "show", "999999", "--admin-url", cp.baseURL])
        #expect(missing.status != 0 && missing.exitedNormally)
        #expect(missing.stderr.contains("404"), "\(missing)")

        try await cp.stop()
    }
}

/// Who may reach the admin API: a listener other machines can reach needs a token, or an explicit opt-out.
@Suite("Admin listener safety")
struct AdminListenerTests {
    static func controlPlane(_ dir: TempDir, listen: String, _ extra: [String] = []) async throws -> Subprocess.Result {
        try await Subprocess.run(try Paths.binary(), [
            "control-plane", "--db", dir.path("p.db"), "--cluster-socket", dir.path("cluster.sock"),
            "--admin-listen", listen,
        ] + extra, timeout: .seconds(30))
    }

    @Test("a non-loopback admin listener without a token is refused before anything starts; a token or --admin-insecure lifts it")
    func nonLoopbackNeedsToken() async throws {
        let dir = try TempDir()
        for listen in ["0.0.0.0:0", "[::]:0", "192.0.2.1:0"] {
            let refused = try await Self.controlPlane(dir, listen: listen)
            #expect(refused.status != 0, "\(listen): \(refused)")
            #expect(refused.stderr.contains("not a loopback address"), "\(listen): \(refused.stderr)")
            #expect(refused.stderr.contains("--admin-token"), "\(listen): \(refused.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("p.db")), "nothing may be created")
        // 192.0.2.1 (TEST-NET-1) is on no interface here: accepted by the check, the bind then fails on its own.
        for extra in [["--admin-token", "s3cret"], ["--admin-insecure"]] {
            let passed = try await Self.controlPlane(dir, listen: "192.0.2.1:0", extra)
            #expect(!passed.stderr.contains("not a loopback address"), "\(extra): \(passed.stderr)")
        }
        var environment = Subprocess.environment()
        environment["PORTCULLIS_ADMIN_TOKEN"] = "from-env"
        let byEnvironment = try await Subprocess.run(try Paths.binary(), [
            "control-plane", "--db", dir.path("p.db"), "--cluster-socket", dir.path("cluster.sock"),
            "--admin-listen", "192.0.2.1:0",
        ], environment: environment, timeout: .seconds(30))
        #expect(!byEnvironment.stderr.contains("not a loopback address"), "\(byEnvironment.stderr)")
        // Any loopback address needs nothing.
        let cp = try await ControlPlaneProcess.start(in: dir, arguments: [
            "--db", dir.path("p.db"), "--admin-listen", "127.0.0.2:0", "--cluster-socket", dir.path("cluster.sock"),
        ])
        try await AdminHTTP(baseURL: "http://127.0.0.2:\(cp.port)").expect(200, "GET", "/status")
        #expect(try await cp.stop() == 0)
    }
}

@Suite("One writer per database")
struct DatabaseLockTests {
    @Test("a second control plane on the same database is refused with a clear message; the first keeps serving")
    func secondControlPlaneRefused() async throws {
        let dir = try TempDir()
        let first = try await ControlPlaneProcess.start(in: dir)
        let second = try await Subprocess.run(try Paths.binary(), [
            "control-plane", "--db", dir.path("portcullis.db"), "--admin-listen", "127.0.0.1:0",
            "--cluster-socket", dir.path("other.sock"),
        ], timeout: .seconds(30))
        #expect(second.status != 0, "\(second)")
        #expect(second.stderr.contains("another control plane is using the database"), "\(second.stderr)")
        try await first.admin().expect(200, "GET", "/status")
        #expect(try await first.stop() == 0)
        // Once the first is gone, the database can be opened again.
        let again = try await ControlPlaneProcess.start(in: dir)
        #expect(try await again.stop() == 0)
    }
}
