import Foundation
import GatewayModel
import Testing

/// Control plane and data planes as real processes on one Unix socket.
@Suite("Cluster")
struct ClusterTests {
    static let heartbeat = ["--heartbeat-interval", "200"]

    /// Polls until `condition` holds (bounded); fails with `what` otherwise.
    static func until(_ what: String, timeout: Duration = .seconds(15), _ condition: () async throws -> Bool)
        async throws
    {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw AdminHTTP.Failure(description: "timed out after \(timeout) waiting for: \(what)")
    }

    /// Waits until every data plane serves the control plane's current hash; returns it.
    @discardableResult
    static func converge(_ cp: ControlPlaneProcess, _ dps: [DataPlaneProcess]) async throws -> String {
        let status = try await cp.admin().waitInSync()
        let hash = try #require(status["configuration_hash"]?.stringValue)
        try await Self.until("\(dps.count) data planes on \(hash.prefix(12))") {
            for dp in dps where try await dp.statusJSON()["config_hash"]?.stringValue != hash { return false }
            return true
        }
        return hash
    }

    @Test("three data planes converge on every admin change; the socket is private")
    func threeDataPlanesConverge() async throws {
        let dir = try TempDir()
        let cp = try await ControlPlaneProcess.start(in: dir, extra: Self.heartbeat)
        var dps: [DataPlaneProcess] = []
        for i in 1...3 { dps.append(try await DataPlaneProcess.start(in: dir, cache: "dp\(i)")) }
        let admin = cp.admin()

        let attributes = try FileManager.default.attributesOfItem(atPath: dir.path("cluster.sock"))
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        try await Self.converge(cp, dps)
        try await Self.until("3 data planes connected and normal") {
            let s = try await admin.expect(200, "GET", "/clustering/status")
            return s["data_planes"]?["normal"] == 3 && s["converged"] == true
        }

        let yaml = try String(contentsOf: try Paths.example("alb-mtls.yaml"), encoding: .utf8)
        try await admin.expect(201, "POST", "/config", body: yaml, contentType: "application/yaml")
        try await Self.converge(cp, dps)
        for dp in dps {
            // Matched and forwarded (to 127.0.0.1:9000, usually closed: 502); not Kong's 404 or the 503 without config.
            let echo = try await dp.proxy.get("/echo/anything")
            #expect(echo.status != 404 && echo.status != 503)
            let none = try await dp.proxy.get("/nowhere")
            #expect(none.status == 404)
            #expect(none.json == ["message": "no Route matched with those values"])
        }

        for i in 0..<4 {
            try await admin.expect(201, "POST", "/services",
                                   body: JSONWriter.string(["name": .string("svc-\(i)"), "host": "example.com"]))
            try await Self.converge(cp, dps)
        }
        let rows = try await admin.expect(200, "GET", "/clustering/data-planes")["data"]?.arrayValue ?? []
        #expect(rows.count == 3)
        for row in rows {
            #expect(row["sync_status"] == "normal")
            #expect(row["hostname"]?.stringValue?.isEmpty == false)
            #expect((row["apply_ms"]?.doubleValue ?? -1) >= 0)
        }

        for dp in dps { #expect(try await dp.stop() == 0) }
        #expect(try await cp.stop() == 0)
    }

    @Test("data planes keep serving without the control plane, restart from their cache, and reconverge")
    func outageAndRecovery() async throws {
        let dir = try TempDir()
        var cp = try await ControlPlaneProcess.start(in: dir, extra: Self.heartbeat)
        let dp1 = try await DataPlaneProcess.start(in: dir, cache: "dp1")
        var dp2 = try await DataPlaneProcess.start(in: dir, cache: "dp2")
        let yaml = try String(contentsOf: try Paths.example("alb-mtls.yaml"), encoding: .utf8)
        try await cp.admin().expect(201, "POST", "/config", body: yaml, contentType: "application/yaml")
        let hash = try await Self.converge(cp, [dp1, dp2])

        try await cp.crash()
        try await Self.until("data plane notices the control plane is gone") {
            try await dp1.statusJSON()["cp_connected"] == false
        }
        #expect(![404, 503].contains(try await dp1.proxy.get("/echo").status))
        #expect(try await dp1.status.get("/status/ready").status == 200)

        // Restarted while the control plane is down: serves its cache.
        try await dp2.stop()
        dp2 = try await DataPlaneProcess.start(in: dir, cache: "dp2")
        let cached = try await dp2.statusJSON()
        #expect(cached["config_hash"] == .string(hash))
        #expect(cached["config_source"] == "cache")
        #expect(![404, 503].contains(try await dp2.proxy.get("/echo").status))

        // A new data plane with neither cache nor control plane: a clear 503, not a hang.
        let dp3 = try await DataPlaneProcess.start(in: dir, cache: "dp3")
        let empty = try await dp3.proxy.get("/echo")
        #expect(empty.status == 503)
        #expect(empty.json?["message"]?.stringValue?.contains("no configuration applied yet") == true)
        #expect(try await dp3.status.get("/status/ready").status == 503)

        cp = try await ControlPlaneProcess.start(in: dir, extra: Self.heartbeat)
        try await Self.converge(cp, [dp1, dp2, dp3])
        for dp in [dp1, dp2, dp3] {
            try await Self.until("reconnected") { try await dp.statusJSON()["cp_connected"] == true }
        }
        try await cp.admin().expect(201, "POST", "/consumers", body: #"{"username":"after-outage"}"#)
        let newHash = try await Self.converge(cp, [dp1, dp2, dp3])
        #expect(newHash != hash)
        #expect(try await dp2.statusJSON()["config_source"] == "control_plane")
        for dp in [dp1, dp2, dp3] { try await dp.stop() }
        try await cp.stop()
    }

    @Test("a snapshot the data plane rejects is NACKed: the old config keeps serving and the CP shows why")
    func rejectedSnapshot() async throws {
        let dir = try TempDir()
        let cp = try await ControlPlaneProcess.start(in: dir, extra: Self.heartbeat)
        let dp = try await DataPlaneProcess.start(in: dir, cache: "dp", extra: ["--max-config-size", "2000"])
        let admin = cp.admin()
        let before = try await Self.converge(cp, [dp])

        let yaml = try String(contentsOf: try Paths.example("alb-mtls.yaml"), encoding: .utf8)
        try await admin.expect(201, "POST", "/config", body: yaml, contentType: "application/yaml")
        try await Self.until("the control plane shows the rejection") {
            let row = try await admin.expect(200, "GET", "/clustering/data-planes")["data"]?.arrayValue?.first
            return row?["sync_status"] == "failed"
        }
        let row = try #require(try await admin.expect(200, "GET", "/clustering/data-planes")["data"]?.arrayValue?.first)
        #expect(row["last_error"]?.stringValue?.contains("more than the 2000 bytes") == true)
        #expect(row["config_hash"] == .string(before))
        let status = try await dp.statusJSON()
        #expect(status["config_hash"] == .string(before))
        #expect(status["last_error"]?.stringValue?.contains("more than the 2000 bytes") == true)
        #expect(try await dp.proxy.get("/echo").status == 404)  // still the old (empty) configuration
        #expect(try await admin.expect(200, "GET", "/clustering/status")["converged"] == false)
        try await dp.stop()
        try await cp.stop()
    }
}
