import Foundation
import GatewayModel
import Testing

/// Command-line and environment configuration: PORTCULLIS_* variables, the admin token, --help, invalid flags.
@Suite("Configuration")
struct ConfigurationTests {
    @Test("PORTCULLIS_ADMIN_LISTEN, PORTCULLIS_DB and PORTCULLIS_CLUSTER_SOCKET replace the flags")
    func environmentOnly() async throws {
        let dir = try TempDir()
        let db = dir.path("env/from-env.db")
        let env = Subprocess.environment([
            "PORTCULLIS_ADMIN_LISTEN": "127.0.0.1:0",
            "PORTCULLIS_DB": db,
            "PORTCULLIS_CLUSTER_SOCKET": dir.path("env.sock"),
        ])
        let cp = try await ControlPlaneProcess.start(in: dir, arguments: [], environment: env)
        let admin = cp.admin()
        let root = try await admin.expect(200, "GET", "/")
        #expect(root["configuration"]?["prefix"]?.stringValue == db)
        #expect(root["configuration"]?["cluster_socket"]?.stringValue == dir.path("env.sock"))
        try await admin.expect(201, "POST", "/consumers", body: #"{"username":"env-user"}"#)
        #expect(FileManager.default.fileExists(atPath: db))
        try await cp.stop()

        // A flag wins over the environment: the same variables plus --db elsewhere start on an empty database.
        let other = dir.path("flag.db")
        let cp2 = try await ControlPlaneProcess.start(in: dir, arguments: ["--db", other], environment: env)
        #expect(try await cp2.admin().names("/consumers", key: "username").isEmpty)
        #expect(try await cp2.admin().expect(200, "GET", "/")["configuration"]?["prefix"]?.stringValue == other)
        try await cp2.stop()
    }

    @Test("--admin-token: 401 without or with a wrong token, 200 with either header form; the CLI passes it")
    func adminToken() async throws {
        let dir = try TempDir()
        let token = "s3cret-\(UUID().uuidString)"
        let cp = try await ControlPlaneProcess.start(in: dir, extra: ["--admin-token", token])
        let plain = cp.admin()

        for path in ["/", "/status", "/services", "/config", "/snapshots"] {
            #expect(try await plain.send("GET", path).status == 401, "GET \(path) without a token")
        }
        #expect(try await plain.send("POST", "/services", body: #"{"name":"x","url":"http://h"}"#).status == 401)
        #expect(try await plain.send("GET", "/services", headers: ["Kong-Admin-Token": "wrong"]).status == 401)
        #expect(try await plain.send("GET", "/services", headers: ["Authorization": "Bearer wrong"]).status == 401)
        #expect(try await plain.send("GET", "/services", headers: ["Authorization": token]).status == 401)
        #expect(try await plain.send("GET", "/services", headers: ["Kong-Admin-Token": token + "x"]).status == 401)

        #expect(try await plain.send("GET", "/services", headers: ["Kong-Admin-Token": token]).status == 200)
        #expect(try await plain.send("GET", "/services", headers: ["Authorization": "Bearer \(token)"]).status == 200)
        let authorized = cp.admin(headers: ["Kong-Admin-Token": token])
        try await authorized.expect(201, "POST", "/services", body: #"{"name":"x","url":"http://h"}"#)
        #expect(try await authorized.get("/").json?["configuration"]?["admin_token_required"]?.boolValue == true)

        // The CLI: refused without the token, accepted with --admin-token or PORTCULLIS_ADMIN_TOKEN.
        let binary = try Paths.binary()
        let denied = try await Subprocess.run(binary, ["snapshots", "list", "--admin-url", cp.baseURL])
        #expect(denied.status != 0 && denied.exitedNormally)
        #expect(denied.stderr.contains("401"), "\(denied)")
        let withFlag = try await Subprocess.run(
            binary, ["snapshots", "list", "--admin-url", cp.baseURL, "--admin-token", token])
        #expect(withFlag.status == 0, "\(withFlag)")
        let withEnv = try await Subprocess.run(
            binary, ["config", "export", "--format", "json"],
            environment: Subprocess.environment(["PORTCULLIS_ADMIN_URL": cp.baseURL, "PORTCULLIS_ADMIN_TOKEN": token]))
        #expect(withEnv.status == 0, "\(withEnv)")
        #expect(try JSONParser.parse(withEnv.stdout)["services"]?.arrayValue?.count == 1)

        try await cp.stop()
    }

    static let commands: [[String]] = [
        [], ["control-plane"], ["config"], ["config", "import"], ["config", "export"], ["snapshots"],
        ["snapshots", "list"], ["snapshots", "show"], ["snapshots", "diff"], ["snapshots", "rollback"],
    ]

    @Test("--help exits 0 for every command and subcommand", arguments: commands)
    func help(_ command: [String]) async throws {
        let result = try await Subprocess.run(try Paths.binary(), command + ["--help"], timeout: .seconds(30))
        #expect(result.status == 0 && result.exitedNormally, "\(result)")
        #expect(result.stdout.contains("USAGE:"), "\(result)")
        if command == ["control-plane"] {
            for flag in ["--db", "--admin-listen", "--cluster-socket", "--admin-token", "PORTCULLIS_ADMIN_LISTEN"] {
                #expect(result.stdout.contains(flag), "help should mention \(flag)")
            }
        }
    }

    @Test("an invalid --admin-listen exits non-zero and names the flag",
          arguments: ["nonsense", "127.0.0.1:99999", "127.0.0.1:", "[::1"])
    func invalidListen(_ value: String) async throws {
        let dir = try TempDir()
        let result = try await Subprocess.run(
            try Paths.binary(),
            ["control-plane", "--admin-listen", value, "--db", dir.path("x.db"), "--cluster-socket", dir.path("s")],
            timeout: .seconds(30))
        #expect(result.status != 0 && result.exitedNormally, "\(result)")
        #expect(result.stderr.contains("--admin-listen"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("x.db")), "validation comes before opening the db")

        // The same through the environment.
        let viaEnv = try await Subprocess.run(
            try Paths.binary(), ["control-plane", "--db", dir.path("x.db"), "--cluster-socket", dir.path("s")],
            environment: Subprocess.environment(["PORTCULLIS_ADMIN_LISTEN": value]), timeout: .seconds(30))
        #expect(viaEnv.status != 0 && viaEnv.exitedNormally, "\(viaEnv)")
        #expect(viaEnv.stderr.contains("admin-listen"), "\(viaEnv)")
    }
}
