import Foundation
import GatewayModel
import Testing
import TestSupport

/// The admin API against its own OpenAPI document: schemathesis (PyPI, installed into .build/venv by
/// `make test` through scripts/ensure-schemathesis.sh) generates requests for every operation of the document the
/// control plane serves at `/openapi.json` and checks each answer: no 5xx, a documented status, the documented
/// content type, headers and body schema.
///
/// It runs for a minute or two of steady load, so `make test` runs it on its own after the rest of the suite
/// (`PORTCULLIS_CONTRACT_TEST=1 swift test --skip-build --filter SchemathesisTests`): beside the timing-sensitive
/// cluster tests on a two-core machine it made them miss their heartbeats. A plain `swift test` skips it.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["PORTCULLIS_CONTRACT_TEST"] == "1",
                             "set PORTCULLIS_CONTRACT_TEST=1 (make test does, after the other tests)"))
struct SchemathesisTests {
    static let token = "contract-test-token"
    static let checks = [
        "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
        "response_schema_conformance",
    ]

    static func schemathesis() throws -> URL {
        let url = try Paths.packageRoot().appendingPathComponent(".build/venv/bin/st")
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw Paths.Missing(description: "schemathesis is not installed at \(url.path): run "
                + "`./scripts/ensure-schemathesis.sh` (make test does) before `swift test --skip-build`")
        }
        return url
    }

    /// The part of a log that says why the process stopped: from the line before the runtime's crash report.
    static func crashReport(_ log: String) -> String {
        let marker = ["Fatal error", "Program crashed", "Crash", "error"].lazy.compactMap { log.range(of: $0) }.first
        guard let marker else { return String(log.suffix(4000)) }
        let start = log.index(marker.lowerBound, offsetBy: -1500, limitedBy: log.startIndex) ?? log.startIndex
        return String(log[start...].prefix(6000))
    }

    @Test func adminAPIConformsToItsDocument() async throws {
        let st = try Self.schemathesis()
        let dir = try TempDir()
        let root = try Paths.packageRoot()
        let cp = try await ControlPlaneProcess.start(in: dir, extra: ["--admin-token", Self.token])
        let admin = cp.admin(headers: ["Kong-Admin-Token": Self.token])
        // A configuration to start from (entities of every type, a few snapshots), so reads and diffs find things;
        // scripts/schemathesis.toml offers these keys for path parameters.
        let example = try String(contentsOf: try Paths.example("alb-mtls.yaml"), encoding: .utf8)
        try await admin.expect(201, "POST", "/config", body: example, contentType: "application/yaml")
        try await admin.expect(201, "POST", "/consumers", body: #"{"username": "contract", "tags": ["t1"]}"#)
        try await admin.expect(201, "POST", "/consumers/contract/header-cert-auth",
                               body: #"{"id": "5c4f0e1a-0000-4000-8000-00000000c0de", "subject_name": "contract.example"}"#)
        try await admin.expect(201, "POST", "/routes/echo/plugins", body: #"""
            {"name": "request-termination", "instance_name": "contract-stop", "config": {"status_code": 418}}
            """#)

        // At the lowest CPU priority: the machine may be busy with other work.
        let result = try await Subprocess.run(
            URL(fileURLWithPath: "/usr/bin/nice"),
            ["-n", "19", st.path, "--config-file", root.appendingPathComponent("scripts/schemathesis.toml").path,
             "run", "\(cp.baseURL)/openapi.json", "-H", "Kong-Admin-Token: \(Self.token)",
             "--checks", Self.checks.joined(separator: ","),
             "--max-examples", "12", "--seed", "20261202", "--workers", "1", "--request-timeout", "20",
             "--suppress-health-check", "all", "--no-color"],
            environment: Subprocess.environment([
                "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
                "PYTHONPATH": root.appendingPathComponent("scripts").path,
            ]),
            workingDirectory: dir.url, timeout: .seconds(600))
        let running = cp.process.isRunning
        #expect(running, "the control plane died during the run:\n\(Self.crashReport(cp.log))")
        #expect(result.status == 0 && result.exitedNormally, "schemathesis found problems:\n\(result)")
        guard running else { return }
        let summary = result.stdout.split(separator: "\n").suffix(25).joined(separator: "\n")
        print("schemathesis:\n\(summary)")
        #expect(!cp.log.contains("admin request failed"), "the control plane logged a failed request:\n\(cp.log)")

        // Still answering, and the status counters saw the run.
        let status = try await admin.expect(200, "GET", "/status")
        #expect((status["server"]?["total_requests"]?.intValue ?? 0) > 100)
        #expect((status["server"]?["connections_accepted"]?.intValue ?? 0) >= 1)
        try await cp.stop()
    }
}
