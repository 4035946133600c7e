import ControlPlane
import GatewayModel
import HTTPTypes
import Testing

@Suite struct ServicesAPITests {
    @Test func createWithJSONAndForm() async throws {
        try await AdminHarness().run { admin, _ in
            let a = try await admin.json(.post, "/services", ["name": "a", "url": "https://upstream.internal/api"])
            #expect(a.status == 201)
            #expect(a["protocol"] == "https")
            #expect(a["host"] == "upstream.internal")
            #expect(a["port"] == 443)
            #expect(a["path"] == "/api")
            #expect(a["retries"] == 5)
            #expect(a["connect_timeout"] == 60000)
            #expect(a["enabled"] == true)
            #expect(a["url"] == nil)
            #expect(UUIDString.isValid(a["id"]?.stringValue ?? ""))

            let b = try await admin.form(.post, "/services", [("name", "b"), ("host", "10.0.0.7"), ("port", "8080"),
                                                               ("retries", "2"), ("tags", "x"), ("tags", "y")])
            #expect(b.status == 201)
            #expect(b["port"] == 8080)
            #expect(b["retries"] == 2)
            #expect(b["tags"] == ["x", "y"])
            #expect(b["protocol"] == "http")
            #expect(b["path"] == .null)
        }
    }

    @Test func getByIDAndNameListPatch() async throws {
        try await AdminHarness().run { admin, _ in
            let created = try await admin.json(.post, "/services", ["name": "svc", "host": "example.com"])
            let id = try #require(created["id"]?.stringValue)
            #expect(try await admin.get("/services/\(id)")["name"] == "svc")
            #expect(try await admin.get("/services/svc")["id"] == .string(id))
            let list = try await admin.get("/services")
            #expect(list.status == 200)
            #expect(list["data"]?.count == 1)
            #expect(list["next"] == .null)
            #expect(list["offset"] == .null)

            let patched = try await admin.form(.patch, "/services/svc", [("port", "9000"), ("path", "/v2")])
            #expect(patched.status == 200)
            #expect(patched["port"] == 9000)
            #expect(patched["path"] == "/v2")
            #expect(patched["host"] == "example.com")
            #expect(patched["created_at"] == created["created_at"])
        }
    }

    @Test func putUpsertsByNameAndByID() async throws {
        try await AdminHarness().run { admin, _ in
            let created = try await admin.json(.put, "/services/by-name", ["host": "one.example", "retries": 1])
            #expect(created.status == 200)
            #expect(created["name"] == "by-name")
            let id = try #require(created["id"]?.stringValue)

            // PUT replaces: unspecified fields go back to their defaults, the id and created_at stay.
            let replaced = try await admin.json(.put, "/services/by-name", ["host": "two.example"])
            #expect(replaced["id"] == .string(id))
            #expect(replaced["host"] == "two.example")
            #expect(replaced["retries"] == 5)
            #expect(replaced["created_at"] == created["created_at"])

            let newID = "3f0c5d2e-1111-4222-8333-444455556666"
            let byID = try await admin.json(.put, "/services/\(newID)", ["name": "by-id", "host": "three.example"])
            #expect(byID.status == 200)
            #expect(byID["id"] == .string(newID))
            #expect(try await admin.get("/services/by-id")["id"] == .string(newID))

            let mismatch = try await admin.json(.put, "/services/by-name", ["name": "other", "host": "x.example"])
            #expect(mismatch.status == 400)
            #expect(mismatch["code"] == 2)
            #expect(mismatch["fields"]?["name"]?.stringValue?.contains("must match") == true)
        }
    }

    @Test func deleteAndNotFound() async throws {
        try await AdminHarness().run { admin, _ in
            _ = try await admin.json(.post, "/services", ["name": "gone", "host": "example.com"])
            #expect(try await admin.delete("/services/gone").status == 204)
            let missing = try await admin.get("/services/gone")
            #expect(missing.status == 404)
            #expect(missing.json == ["message": "Not found"])
            // Kong answers 204 for a delete of something that does not exist.
            #expect(try await admin.delete("/services/gone").status == 204)
            #expect(try await admin.get("/no-such-endpoint").json == ["message": "Not found"])
        }
    }

    @Test func errorsAreKongShaped() async throws {
        try await AdminHarness(bodyLimit: 4096).run { admin, _ in
            let missingHost = try await admin.json(.post, "/services", ["name": "x"])
            #expect(missingHost.status == 400)
            #expect(missingHost.json == [
                "code": 2, "name": "schema violation", "message": "schema violation (host: required field missing)",
                "fields": ["host": "required field missing"],
            ])

            let several = try await admin.json(.post, "/services", ["host": "bad host", "port": 70000, "protocol": "ftp",
                                                                   "nonsense": 1])
            #expect(several.status == 400)
            #expect(several["message"]?.stringValue?.hasPrefix("4 schema violations (") == true)
            #expect(several["fields"]?["port"] == "value should be between 0 and 65535")
            #expect(several["fields"]?["nonsense"] == "unknown field")
            #expect(several["fields"]?["protocol"]?.stringValue?.hasPrefix("expected one of: grpc, grpcs, http") == true)
            #expect(several["fields"]?["host"] == "invalid hostname: bad host")

            let badURL = try await admin.json(.post, "/services", ["url": "nota-url"])
            #expect(badURL.status == 400)
            #expect(badURL["fields"]?["url"] != nil)

            _ = try await admin.json(.post, "/services", ["name": "dup", "host": "example.com"])
            let dup = try await admin.json(.post, "/services", ["name": "dup", "host": "example.org"])
            #expect(dup.status == 409)
            #expect(dup.json == [
                "code": 5, "name": "unique constraint violation",
                "message": "UNIQUE violation detected on '{name=\"dup\"}'", "fields": ["name": "dup"],
            ])

            let badJSON = try await admin.send(.post, "/services", body: Array("{\"name\":".utf8), contentType: "application/json")
            #expect(badJSON.status == 400)
            #expect(badJSON["message"]?.stringValue?.hasPrefix("Cannot parse JSON body") == true)

            let notObject = try await admin.send(.post, "/services", body: Array("[1]".utf8), contentType: "application/json")
            #expect(notObject.status == 400)

            let unsupported = try await admin.send(.post, "/services", body: Array("name=x".utf8), contentType: "text/plain")
            #expect(unsupported.status == 415)
            #expect(unsupported["message"]?.stringValue?.contains("Unsupported Content-Type") == true)

            let big = try await admin.json(.post, "/services", ["name": .string(String(repeating: "a", count: 8000)), "host": "h"])
            #expect(big.status == 413)

            let method = try await admin.send(.put, "/services")
            #expect(method.status == 405)
            #expect(method.json == ["message": "Method not allowed"])

            // None of the failed requests stored anything.
            #expect(try await admin.get("/services")["data"]?.count == 1)
        }
    }

    @Test func adminTokenIsEnforced() async throws {
        try await AdminHarness(token: "s3cret").run { admin, _ in
            let denied = try await admin.get("/services")
            #expect(denied.status == 401)
            var h = HTTPFields()
            h[HTTPField.Name("Kong-Admin-Token")!] = "s3cret"
            #expect(try await admin.get("/services", headers: h).status == 200)
            var bearer = HTTPFields()
            bearer[.authorization] = "Bearer s3cret"
            #expect(try await admin.get("/status", headers: bearer).status == 200)
            var wrong = HTTPFields()
            wrong[.authorization] = "Bearer s3cre"
            #expect(try await admin.get("/status", headers: wrong).status == 401)
        }
    }

    @Test func rootAndStatus() async throws {
        try await AdminHarness().run { admin, server in
            let root = try await admin.get("/")
            #expect(root["plugins"]?["available_on_server"]?["header-cert-auth"]?["priority"] == 1009)
            _ = try await admin.json(.post, "/consumers", ["username": "u"])
            let built = try await server.builder.buildIfNeeded()
            let status = try await admin.get("/status")
            #expect(status["configuration_version"] == .int(built.version))
            #expect(status["configuration_hash"] == .string(built.hash))
            #expect(status["database"]?["reachable"] == true)
            #expect(try await admin.get("/status/ready").status == 200)
        }
    }
}

@Suite struct ConfigVersionHeaderTests {
    @Test func writesCarryTheirConfigVersion() async throws {
        try await AdminHarness().run { admin, server in
            let created = try await admin.json(.post, "/consumers", ["username": "v"])
            let header = created.headers[HTTPField.Name("X-Portcullis-Config-Version")!]
            #expect(header == String(try await server.store.currentVersion()))
            let read = try await admin.get("/consumers/v")
            #expect(read.headers[HTTPField.Name("X-Portcullis-Config-Version")!] == nil)
            let failed = try await admin.json(.post, "/consumers", ["username": "v"])
            #expect(failed.status == 409)
            #expect(failed.headers[HTTPField.Name("X-Portcullis-Config-Version")!] == nil)
        }
    }
}
