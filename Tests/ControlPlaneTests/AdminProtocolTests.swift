import ControlPlane
import GRDB
import GatewayModel
import HTTPTypes
import Testing

/// What schemathesis found in the admin API (each was a wrong answer to a request the document allows or
/// forbids), kept fixed here.
@Suite struct AdminProtocolTests {
    /// The `next` link of `GET /snapshots` is followable: its offset is a version, not an entity position (it was
    /// refused with 400 "invalid offset").
    @Test func snapshotPagesFollowTheirNextLink() async throws {
        try await AdminHarness().run { admin, handles in
            for i in 0..<3 {
                #expect(try await admin.json(.post, "/consumers", ["username": .string("u\(i)")]).status == 201)
                _ = try await handles.builder.buildIfNeeded()
            }
            let first = try await admin.get("/snapshots?size=2")
            #expect(first.status == 200)
            #expect(first["data"]?.count == 2)
            let next = try #require(first["next"]?.stringValue)
            let second = try await admin.get(next)
            #expect(second.status == 200, "\(second.text)")
            #expect((second["data"]?.count ?? 0) >= 1)
            let firstVersions = first["data"]?.arrayValue?.compactMap { $0["version"]?.intValue } ?? []
            let secondVersions = second["data"]?.arrayValue?.compactMap { $0["version"]?.intValue } ?? []
            #expect(Set(firstVersions).isDisjoint(with: secondVersions))
            #expect((secondVersions.max() ?? .max) < (firstVersions.min() ?? 0))
            let bad = try await admin.get("/snapshots?offset=abc")
            #expect(bad.status == 400)
            #expect(bad["name"] == "invalid offset")
        }
    }

    /// An unknown `format` is refused, naming the parameter (it silently fell back to the default shape).
    @Test func unknownFormatIsRefused() async throws {
        try await AdminHarness().run { admin, handles in
            #expect(try await admin.json(.post, "/consumers", ["username": "x"]).status == 201)
            _ = try await handles.builder.buildIfNeeded()
            for path in ["/config?format=xml", "/snapshots/latest?format=null"] {
                let reply = try await admin.get(path)
                #expect(reply.status == 400, "\(path)")
                #expect(reply["fields"]?["format"] == "expected one of: json, yaml", "\(path)")
            }
            #expect(try await admin.get("/config?format=yaml").status == 200)
            #expect(try await admin.get("/snapshots/latest?format=json").status == 200)
        }
    }

    /// `GET /tags` skips a tag column member that is not text (a null member crashed the control plane: GRDB traps
    /// reading NULL as a String).
    @Test func tagsSkipMembersThatAreNotText() async throws {
        try await AdminHarness().run { admin, handles in
            #expect(try await admin.json(.post, "/consumers", ["username": "t", "tags": ["a"]]).status == 201)
            try await handles.store.pool.write { db in
                try db.execute(sql: #"UPDATE consumers SET tags = '[null, "a", 3]'"#)
            }
            let all = try await admin.get("/tags")
            #expect(all.status == 200)
            #expect(all["data"]?.arrayValue?.compactMap { $0["tag"]?.stringValue } == ["a"])
            #expect(try await admin.get("/tags/a")["data"]?.count == 1)
        }
    }

    /// `timeout_ms` is checked even without `wait_for_version` (a bad value was ignored).
    @Test func badTimeoutIsRefusedAlone() async throws {
        try await AdminHarness().run { admin, _ in
            let reply = try await admin.get("/clustering/status?timeout_ms=null")
            #expect(reply.status == 400)
            #expect(reply["message"]?.stringValue?.contains("timeout_ms") == true)
            #expect(try await admin.get("/clustering/status?timeout_ms=10").status == 200)
        }
    }

    /// A multipart body holding only its close delimiter is a form without fields, like an empty body (it was
    /// refused with "no parts found").
    @Test func emptyMultipartIsAnEmptyForm() async throws {
        try await AdminHarness().run { admin, _ in
            #expect(try await admin.json(.post, "/consumers", ["username": "alice"]).status == 201)
            let reply = try await admin.send(.patch, "/consumers/alice", body: Array("--b0undary--\r\n".utf8),
                                             contentType: "multipart/form-data; boundary=b0undary")
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply["username"] == "alice")
            let broken = try await admin.send(.patch, "/consumers/alice", body: Array("no delimiter".utf8),
                                              contentType: "multipart/form-data; boundary=b0undary")
            #expect(broken.status == 400)
        }
    }

    /// 405 lists the supported methods in `Allow`; HEAD answers like GET without a body; OPTIONS answers 204 with
    /// `Allow`; TRACE is a 405, not the router's 404.
    @Test func methodsBeyondTheDocumentedOnes() async throws {
        try await AdminHarness().run { admin, _ in
            let put = try await admin.send(.put, "/services")
            #expect(put.status == 405)
            #expect(put.headers[.allow] == "GET, POST, HEAD, OPTIONS")
            let trace = try await admin.send(.trace, "/status")
            #expect(trace.status == 405)
            #expect(trace.headers[.allow] == "GET, HEAD, OPTIONS")
            let get = try await admin.get("/")
            let head = try await admin.send(.head, "/")
            #expect(head.status == 200)
            #expect(head.body.isEmpty)
            #expect(head.headers[.contentLength] == String(get.body.count))
            #expect(try await admin.send(.head, "/services/missing").status == 404)
            let options = try await admin.send(.options, "/services/x")
            #expect(options.status == 204)
            #expect(options.headers[.allow] == "GET, PUT, PATCH, DELETE, HEAD, OPTIONS")
            #expect(options.headers[HTTPField.Name("X-Portcullis-Config-Version")!] == nil)
        }
    }
}
