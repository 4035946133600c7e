import Foundation
import GatewayModel
import Testing

/// Every write the admin API acknowledged (2xx) must be on disk before the answer: the process is SIGKILLed right
/// after each answer, restarted on the same database file, and the write must be there.
@Suite("Durability")
struct DurabilityTests {
    @Test("acknowledged writes survive kill -9 right after the answer")
    func acknowledgedWritesSurviveSIGKILL() async throws {
        let dir = try TempDir()

        // 1. POST /services (JSON), then kill -9.
        var cp = try await ControlPlaneProcess.start(in: dir)
        var admin = cp.admin()
        try await admin.expect(201, "POST", "/services", body: #"{"name":"svc-a","url":"http://127.0.0.1:9001/a"}"#)
        try await cp.crash()

        cp = try await ControlPlaneProcess.start(in: dir)
        admin = cp.admin()
        var status = try await admin.waitInSync()
        #expect(status["configuration_version"]?.intValue ?? 0 >= 1)
        let service = try await admin.expect(200, "GET", "/services/svc-a")
        #expect(service["host"]?.stringValue == "127.0.0.1")
        #expect(service["port"]?.intValue == 9001)

        // 2. POST a nested route with a form body (Kong's bracketed array syntax), then kill -9.
        try await admin.expect(
            201, "POST", "/services/svc-a/routes", body: "name=route-a&paths[]=/a&paths[]=/a2&methods=GET",
            contentType: "application/x-www-form-urlencoded")
        try await cp.crash()

        cp = try await ControlPlaneProcess.start(in: dir)
        admin = cp.admin()
        status = try await admin.waitInSync()
        #expect(status["configuration_version"]?.intValue ?? 0 >= 2)
        let route = try await admin.expect(200, "GET", "/services/svc-a/routes/route-a")
        #expect(route["paths"] == ["/a", "/a2"])
        #expect(route["methods"] == ["GET"])
        #expect(route["service"]?["id"] == service["id"])

        // 3. PATCH, then kill -9.
        try await admin.expect(200, "PATCH", "/services/svc-a", body: #"{"retries":7,"path":"/patched"}"#)
        try await cp.crash()

        cp = try await ControlPlaneProcess.start(in: dir)
        admin = cp.admin()
        status = try await admin.waitInSync()
        #expect(status["configuration_version"]?.intValue ?? 0 >= 3)
        let patched = try await admin.expect(200, "GET", "/services/svc-a")
        #expect(patched["retries"]?.intValue == 7)
        #expect(patched["path"]?.stringValue == "/patched")
        // The snapshot of this state (built at startup) is the rollback target of step 5.
        let target = try #require(status["snapshot"]?["version"]?.intValue)
        let targetHash = try #require(status["snapshot"]?["hash"]?.stringValue)

        // 4. A declarative import (YAML), then kill -9.
        let yaml = try String(contentsOf: Paths.example("alb-mtls.yaml"), encoding: .utf8)
        let imported = try await admin.expect(201, "POST", "/config", body: yaml, contentType: "application/yaml")
        let importVersion = try #require(imported["version"]?.intValue)
        let importHash = try #require(imported["hash"]?.stringValue)
        #expect(importVersion > target)
        try await cp.crash()

        cp = try await ControlPlaneProcess.start(in: dir)
        admin = cp.admin()
        status = try await admin.waitInSync()
        #expect(status["configuration_version"]?.intValue ?? 0 >= importVersion)
        #expect(status["configuration_hash"]?.stringValue == importHash)
        #expect(try await admin.names("/services") == ["echo-svc"])
        #expect(try await admin.names("/routes") == ["echo", "mtls"])
        #expect(try await admin.names("/plugins") == ["header-cert-auth"])
        #expect(try await admin.names("/consumers", key: "username") == ["client.example.com"])
        try await admin.expect(200, "GET", "/ca_certificates/7c3f0a4e-0000-4000-8000-000000000001")

        // 5. Roll back to the state of step 3, then kill -9.
        let rolledBack = try await admin.expect(201, "POST", "/snapshots/\(target)/rollback")
        let rollbackVersion = try #require(rolledBack["version"]?.intValue)
        #expect(rollbackVersion > importVersion)
        #expect(rolledBack["rolled_back_to"]?["version"]?.intValue == target)
        // The same content hashes the same.
        #expect(rolledBack["hash"]?.stringValue == targetHash)
        try await cp.crash()

        cp = try await ControlPlaneProcess.start(in: dir)
        admin = cp.admin()
        status = try await admin.waitInSync()
        #expect(status["configuration_version"]?.intValue ?? 0 >= rollbackVersion)
        #expect(status["configuration_hash"]?.stringValue == targetHash)
        #expect(try await admin.names("/services") == ["svc-a"])
        #expect(try await admin.names("/routes") == ["route-a"])
        #expect(try await admin.names("/plugins").isEmpty)
        let restored = try await admin.expect(200, "GET", "/services/svc-a")
        #expect(restored["retries"]?.intValue == 7)
        #expect(restored["id"] == service["id"])

        // A clean shutdown exits 0.
        let code = try await cp.stop()
        #expect(code == 0, "control-plane log:\n\(cp.log)")
    }
}
