import ControlPlane
import GatewayModel
import HTTPTypes
import Testing
import TestSupport

@Suite struct DeclarativeAndSnapshotsTests {
    @Test func importExportRoundTrip() async throws {
        try await AdminHarness().run { admin, _ in
            let yaml = try Repo.text("examples/alb-mtls.yaml")
            let imported = try await admin.send(.post, "/config", body: Array(yaml.utf8), contentType: "application/yaml")
            #expect(imported.status == 201)
            #expect(imported["counts"]?["routes"] == 2)
            #expect(imported["counts"]?["plugins"] == 1)
            let hash = try #require(imported["hash"]?.stringValue)

            #expect(try await admin.get("/services/echo-svc/routes")["data"]?.count == 2)
            let plugin = try #require(try await admin.get("/routes/mtls/plugins")["data"]?.arrayValue?.first)
            #expect(plugin["config"]?["certificate_header_name"] == "X-Amzn-Mtls-Clientcert")
            #expect(plugin["config"]?["ca_certificates"] == [.string(Repo.exampleCAID)])

            let unchanged = try await admin.send(.post, "/config?check_hash=1", body: Array(yaml.utf8), contentType: "application/yaml")
            #expect(unchanged.status == 304)

            // Export as JSON, import it back: same content, same hash.
            let exported = try await admin.get("/config?format=json")
            #expect(exported["_format_version"] == "3.0")
            let again = try await admin.send(.post, "/config", body: exported.body, contentType: "application/json")
            #expect(again.status == 201)
            #expect(again["hash"] == .string(hash))

            // Kong's shapes: GET /config → {"config": "<yaml>"}; POST /config with a `config` field.
            let kongShape = try await admin.get("/config")
            let text = try #require(kongShape["config"]?.stringValue)
            let viaField = try await admin.json(.post, "/config?check_hash=1", ["config": .string(text)])
            #expect(viaField.status == 304)
            let viaForm = try await admin.form(.post, "/config?check_hash=1", [("config", text)])
            #expect(viaForm.status == 304)
        }
    }

    @Test func invalidDocumentsStoreNothing() async throws {
        try await AdminHarness().run { admin, server in
            _ = try await admin.json(.post, "/consumers", ["username": "keep-me"])
            let versionBefore = try await server.store.currentVersion()
            let bad: JSON = [
                "_format_version": "3.0",
                "services": [["name": "s", "url": "http://example.com", "routes": [["name": "r", "paths": ["nope"]]]]],
                "routes": [["name": "r2", "paths": ["/x"], "service": "missing-service"]],
            ]
            let r = try await admin.json(.post, "/config", bad)
            #expect(r.status == 400)
            #expect(r["code"] == 14)
            #expect(r["name"] == "invalid declarative configuration")
            let fields = try #require(r["fields"]?.objectValue)
            #expect(fields["services[1].routes[1]"]?["paths"] == ["should start with: / (fixed path) or ~/ (regex path)"])
            #expect(fields["routes[1].service"] == "invalid reference 'service: missing-service' (no such entry in 'services')")

            let noVersion = try await admin.json(.post, "/config", ["services": []])
            #expect(noVersion.status == 400)
            #expect(noVersion["fields"]?["_format_version"] == "required field missing")

            let yamlError = try await admin.send(.post, "/config", body: Array("services: [unclosed".utf8), contentType: "application/yaml")
            #expect(yamlError.status == 400)
            #expect(yamlError["code"] == 14)

            #expect(try await server.store.currentVersion() == versionBefore)
            #expect(try await admin.get("/consumers/keep-me").status == 200)
        }
    }

    @Test func snapshotsHistoryDiffAndRollback() async throws {
        try await AdminHarness().run { admin, server in
            _ = try await admin.json(.post, "/services", ["name": "alpha", "host": "alpha.internal"])
            let v1 = try await server.builder.buildIfNeeded()
            _ = try await admin.json(.post, "/services", ["name": "beta", "host": "beta.internal"])
            _ = try await admin.json(.patch, "/services/alpha", ["port": 8080])
            let v2 = try await server.builder.buildIfNeeded()
            #expect(v2.version > v1.version)
            #expect(v2.hash != v1.hash)

            let list = try await admin.get("/snapshots")
            let versions = (list["data"]?.arrayValue ?? []).compactMap { $0["version"]?.intValue }
            #expect(versions.first == v2.version)
            #expect(versions.contains(v1.version))
            #expect(list["data"]?.arrayValue?.first?["counts"]?["services"] == 2)

            let shown = try await admin.get("/snapshots/\(v1.version)")
            #expect(shown.status == 200)
            #expect(shown["services"]?.count == 1)
            #expect(shown.headers[values: .init("X-Portcullis-Config-Hash")!].first == v1.hash)
            #expect(try await admin.get("/snapshots/latest")["services"]?.count == 2)

            let diff = try await admin.get("/snapshots/\(v1.version)/diff/\(v2.version)")
            #expect(diff["added"]?["services"]?.arrayValue?.first?["name"] == "beta")
            #expect(diff["changed"]?["services"]?.arrayValue?.first?["fields"]?["port"] == ["old": 80, "new": 8080])
            #expect(diff["summary"] == ["added": 1, "removed": 0, "changed": 1])

            let rolled = try await admin.send(.post, "/snapshots/\(v1.version)/rollback")
            #expect(rolled.status == 201)
            #expect(rolled["hash"] == .string(v1.hash))
            #expect((rolled["version"]?.intValue ?? 0) > v2.version)
            let services = try await admin.get("/services")
            #expect(services["data"]?.count == 1)
            #expect(services["data"]?.arrayValue?.first?["port"] == 80)
            #expect(try await admin.get("/services/beta").status == 404)

            #expect(try await admin.get("/snapshots/999999").status == 404)
            #expect(try await admin.get("/snapshots/abc").status == 400)
            #expect(try await admin.send(.post, "/snapshots/999999/rollback").status == 404)
        }
    }

    @Test func deltaChainsRebuildEveryVersion() async throws {
        try await AdminHarness().run { admin, server in
            // Each write its own snapshot, stored as a delta: created, changed, created then deleted within the
            // chain, a cascade (deleting a service removes its routes).
            var expected: [(Int64, Int, Int, Int)] = []  // version, services, routes, consumers
            func step(_ write: () async throws -> Void) async throws {
                try await write()
                let info = try await server.builder.buildIfNeeded()
                let content = try await server.store.currentContent().content
                expected.append((info.version, content["services"].count, content["routes"].count,
                                 content["consumers"].count))
            }
            try await step { _ = try await admin.json(.post, "/services", ["name": "a", "host": "a.internal"]) }
            try await step { _ = try await admin.json(.post, "/services/a/routes", ["name": "ra", "paths": ["/a"]]) }
            try await step { _ = try await admin.json(.post, "/consumers", ["username": "tmp"]) }
            try await step { _ = try await admin.json(.patch, "/services/a", ["port": 8443]) }
            try await step { _ = try await admin.send(.delete, "/consumers/tmp") }
            try await step { _ = try await admin.json(.post, "/services", ["name": "b", "host": "b.internal"]) }
            try await step { _ = try await admin.send(.delete, "/routes/ra") }
            try await step { _ = try await admin.send(.delete, "/services/a") }
            let listed = try await admin.get("/snapshots?size=100")["data"]?.arrayValue ?? []
            #expect(listed.contains { $0["stored_as"]?.stringValue?.hasPrefix("delta from") == true })
            for (version, services, routes, consumers) in expected {
                let shown = try await admin.get("/snapshots/\(version)")
                #expect(shown.status == 200, "snapshot \(version): \(shown.json)")
                #expect((shown["services"]?.count ?? 0) == services)
                #expect((shown["routes"]?.count ?? 0) == routes)
                #expect((shown["consumers"]?.count ?? 0) == consumers)
            }
            // Rolling back to the middle of a chain restores that version exactly (same hash).
            let middle = expected[3]
            let rolled = try await admin.send(.post, "/snapshots/\(middle.0)/rollback")
            #expect(rolled.status == 201)
            let shown = try await admin.get("/snapshots/\(middle.0)")
            #expect(rolled["hash"] == .string(shown.headers[values: .init("X-Portcullis-Config-Hash")!].first ?? ""))
            #expect(try await admin.get("/routes")["data"]?.count == 1)
        }
    }

    @Test func writeBurstsAreCoalesced() async throws {
        try await AdminHarness().run { admin, server in
            _ = try await server.builder.buildIfNeeded()
            let before = server.builder.builds
            for i in 0..<1000 {
                _ = try await server.store.create(.consumers, input: ["username": .string("burst-\(i)")])
            }
            let final = try await server.store.currentVersion()
            // The newest version is materialised shortly after the last write (bounded wait).
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while server.builder.latest?.version != final, clock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(server.builder.latest?.version == final)
            #expect(server.builder.latest?.counts["consumers"] == 1000)
            let built = server.builder.builds - before
            #expect(built >= 1)
            #expect(built < 200, "1,000 writes built \(built) snapshots")
            let newest = try #require(try await admin.get("/snapshots?size=1")["data"]?.arrayValue?.first)
            #expect((newest["changes"]?.intValue ?? 0) >= 1)
        }
    }

    @Test func retentionKeepsNewest() async throws {
        try await AdminHarness(retention: 3).run { admin, server in
            for i in 0..<6 {
                _ = try await admin.json(.post, "/consumers", ["username": .string("r\(i)")])
                _ = try await server.builder.buildIfNeeded()
            }
            let list = try await admin.get("/snapshots")
            // The newest 3, plus the whole snapshot the oldest of them is stored as a delta from.
            let versions = (list["data"]?.arrayValue ?? []).compactMap { $0["version"]?.intValue }
            #expect(versions.count >= 3 && versions.count <= 3 + 1)
            #expect(versions.first == (try await server.store.currentVersion()))
            let oldest = try #require(list["data"]?.arrayValue?.last)
            #expect(oldest["stored_as"] == "full")
            // Every listed snapshot can still be rebuilt and shown.
            for v in versions {
                let shown = try await admin.get("/snapshots/\(v)")
                #expect(shown.status == 200, "snapshot \(v): \(shown.json)")
            }
        }
    }
}
