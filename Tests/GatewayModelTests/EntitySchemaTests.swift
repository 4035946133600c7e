import GatewayModel
import Testing

@Suite("services")
struct ServiceSchemaTests {
    @Test func defaults() throws {
        let s = try Fixture.valid(.services, ["name": "svc", "host": "example.com"])
        #expect(UUIDString.isValid(s["id"]?.stringValue ?? ""))
        #expect(s["created_at"] == .int(Fixture.now))
        #expect(s["updated_at"] == .int(Fixture.now))
        #expect(s["protocol"] == "http")
        #expect(s["port"] == 80)
        #expect(s["path"] == .null)
        #expect(s["retries"] == 5)
        #expect(s["connect_timeout"] == 60000)
        #expect(s["write_timeout"] == 60000)
        #expect(s["read_timeout"] == 60000)
        #expect(s["enabled"] == true)
        #expect(s["tags"] == .null)
        #expect(s["tls_verify"] == .null)
        #expect(s["ca_certificates"] == .null)
        #expect(s.count == 17)
    }

    @Test func hostIsRequired() throws {
        let e = try Fixture.invalid(.services, ["name": "svc"])
        #expect(e.message == "schema violation (host: required field missing)")
        #expect(e.fieldsJSON == ["host": "required field missing"])
    }

    @Test func givenIDIsLowercased() throws {
        let s = try Fixture.valid(.services, ["id": "AAAAAAAA-0000-4000-8000-00000000000B", "host": "h"])
        #expect(s["id"] == "aaaaaaaa-0000-4000-8000-00000000000b")
    }

    @Test(arguments: [
        ("http://example.com", "http", "example.com", 80, nil),
        ("https://example.com", "https", "example.com", 443, nil),
        ("HTTPS://Example.com:8443/api/v1?x=1#frag", "https", "Example.com", 8443, "/api/v1"),
        ("http://127.0.0.1:9000/anything", "http", "127.0.0.1", 9000, "/anything"),
        ("http://[::1]:8080/", "http", "::1", 8080, "/"),
        ("https://[2001:db8::1]", "https", "2001:db8::1", 443, nil),
        ("grpcs://grpc.internal", "grpcs", "grpc.internal", 443, nil),
        ("tcp://db:5432", "tcp", "db", 5432, nil),
        ("ws://chat", "ws", "chat", 80, nil),
        ("wss://chat/socket", "wss", "chat", 443, "/socket"),
    ] as [(String, String, String, Int, String?)])
    func urlShorthand(url: String, proto: String, host: String, port: Int, path: String?) throws {
        let parsed = try ServiceURL.parse(url).get()
        #expect(parsed.scheme == proto)
        #expect(parsed.host == host)
        #expect(parsed.port == port)
        #expect(parsed.path == path)
        let s = try Fixture.valid(.services, ["name": "svc", "url": .string(url)])
        #expect(s["protocol"] == .string(proto))
        #expect(s["host"] == .string(host))
        #expect(s["port"] == .int(Int64(port)))
        #expect(s["path"] == (path.map(JSON.string) ?? .null))
        #expect(s["url"] == nil)
    }

    @Test func urlOverridesExplicitFields() throws {
        let s = try Fixture.valid(.services, ["url": "https://b.example:444/x", "host": "a.example", "port": 1,
                                               "protocol": "http", "path": "/y"])
        #expect(s["host"] == "b.example")
        #expect(s["port"] == 444)
        #expect(s["protocol"] == "https")
        #expect(s["path"] == "/x")
    }

    @Test(arguments: [
        ("example.com", "missing scheme in url (expected e.g. http://host:port/path)"),
        ("ftp://example.com", "unsupported scheme 'ftp' in url"),
        ("http://", "missing host in url"),
        ("http://:8080/x", "missing host in url"),
        ("http://example.com:abc", "invalid port in url"),
        ("http://example.com:70000", "invalid port in url"),
        ("http://example.com:", "invalid port in url"),
        ("http://[::1", "invalid IPv6 host in url"),
        ("http://[::1]x", "invalid host in url"),
        ("http://[::1]:99999", "invalid port in url"),
        ("http://bad_host!/x", "invalid hostname: bad_host!"),
        ("http://user@example.com", "invalid hostname: user@example.com"),
    ])
    func badURLs(url: String, message: String) throws {
        guard case .failure(let problem) = ServiceURL.parse(url) else {
            Issue.record("\(url) should not parse")
            return
        }
        #expect(problem.message == message)
        let e = try Fixture.invalid(.services, ["url": .string(url)])
        #expect(e.messageAt("url") == message)
        // Only the url is reported, not the fields it would have filled.
        #expect(e.message == "schema violation (url: \(message))")
    }

    @Test func urlMustBeAString() throws {
        let e = try Fixture.invalid(.services, ["url": 5, "host": "h"])
        #expect(e.message == "schema violation (url: expected a string)")
    }

    @Test func fieldRanges() throws {
        let e = try Fixture.invalid(.services, [
            "host": "h", "port": 65536, "retries": -1, "connect_timeout": 0, "protocol": "ftp", "path": "x",
            "name": "bad name",
        ])
        #expect(e.fieldsJSON == [
            "port": "value should be between 0 and 65535",
            "retries": "value should be between 0 and 32767",
            "connect_timeout": "value should be between 1 and 2147483646",
            "protocol": "expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp, ws, wss",
            "path": "should start with: /",
            "name": "invalid value 'bad name': the only accepted ascii characters are alphanumerics or ., -, _, and ~",
        ])
        #expect(e.message.hasPrefix("6 schema violations (connect_timeout: value should be between 1 and 2147483646; "))
    }

    @Test func pathMustBeNullForStreamAndGRPCProtocols() throws {
        for proto: JSON in ["tcp", "tls", "udp", "grpc", "grpcs", "tls_passthrough"] {
            let e = try Fixture.invalid(.services, ["host": "h", "protocol": proto, "path": "/x"])
            #expect(e.fieldsJSON == [
                "path": "value must be null",
                "@entity": ["'path' can only be set when 'protocol' is 'http', 'https', 'ws' or 'wss'"],
            ])
        }
        _ = try Fixture.valid(.services, ["host": "h", "protocol": "tcp"])
    }

    @Test func tlsVerifyOnlyForTLSProtocols() throws {
        let e = try Fixture.invalid(.services, ["host": "h", "tls_verify": true, "tls_verify_depth": 2])
        #expect(e.fieldsJSON == ["tls_verify": "value must be null", "tls_verify_depth": "value must be null"])
        _ = try Fixture.valid(.services, ["host": "h", "protocol": "https", "tls_verify": true, "tls_verify_depth": 2])
        let depth = try Fixture.invalid(.services, ["host": "h", "protocol": "https", "tls_verify_depth": 65])
        #expect(depth.message == "schema violation (tls_verify_depth: value should be between 0 and 64)")
    }

    @Test func caCertificatesMustExist() throws {
        let input: JSONObject = ["host": "h", "protocol": "https",
                                     "ca_certificates": [.string(Fixture.caID), .string(Fixture.otherCAID)]]
        let ctx = Fixture.context(existing: [("ca_certificates", Fixture.caID)])
        let e = try Fixture.invalid(.services, input, context: ctx)
        #expect(e.message
            == "schema violation (ca_certificates[2]: ca_certificate '\(Fixture.otherCAID)' does not exist)")
        _ = try Fixture.valid(.services, input, context: Fixture.context(existing: [
            ("ca_certificates", Fixture.caID), ("ca_certificates", Fixture.otherCAID),
        ]))
        let notUUID = try Fixture.invalid(.services, ["host": "h", "ca_certificates": ["abc"]])
        #expect(notUUID.message == "schema violation (ca_certificates[1]: expected a valid UUID)")
    }

    @Test func unknownFieldsAreRejected() throws {
        let e = try Fixture.invalid(.services, ["host": "h", "client_certificat": ["id": .string(Fixture.caID)]])
        #expect(e.message == "schema violation (client_certificat: unknown field)")
    }

    @Test func patchKeepsStoredFieldsAndCreatedAt() throws {
        let stored = try Fixture.valid(.services, ["name": "svc", "url": "https://a.example:8443/p", "retries": 9])
        let later = Fixture.context(now: Fixture.now + 100)
        let patched = try EntityWriter.prepare(.services, input: ["url": "http://b.example"], existing: stored,
                                               kind: .update, coerceStrings: false, context: later).get()
        #expect(patched["id"] == stored["id"])
        #expect(patched["created_at"] == .int(Fixture.now))
        #expect(patched["updated_at"] == .int(Fixture.now + 100))
        #expect(patched["retries"] == 9)
        #expect(patched["host"] == "b.example")
        #expect(patched["port"] == 80)
        #expect(patched["path"] == .null)
        #expect(patched["protocol"] == "http")

        let replaced = try EntityWriter.prepare(.services, input: ["name": "svc", "host": "c.example"],
                                                existing: stored, kind: .replace, coerceStrings: false,
                                                context: later).get()
        #expect(replaced["id"] == stored["id"])
        #expect(replaced["created_at"] == .int(Fixture.now))
        #expect(replaced["retries"] == 5)
        #expect(replaced["protocol"] == "http")
    }

    @Test func idCannotChange() {
        let stored: JSONObject = ["id": .string(Fixture.serviceID), "host": "h", "created_at": 1]
        let result = EntityWriter.prepare(.services, input: ["id": .string(Fixture.routeID)], existing: stored,
                                          kind: .update, coerceStrings: false, context: Fixture.context())
        guard case .failure(let e) = result else {
            Issue.record("expected a failure")
            return
        }
        #expect(e.message == "schema violation (id: cannot be changed)")
        // The same id in another case is the same id.
        let same = EntityWriter.prepare(.services, input: ["id": .string(Fixture.serviceID.uppercased())],
                                        existing: stored, kind: .update, coerceStrings: false,
                                        context: Fixture.context())
        #expect((try? same.get())?["id"] == .string(Fixture.serviceID))
    }

    @Test func formInput() throws {
        let s = try EntityWriter.prepare(.services, input: ["host": "h", "port": "8080", "retries": "",
                                                            "enabled": "false", "tags": "t1"],
                                         existing: nil, kind: .create, coerceStrings: true,
                                         context: Fixture.context()).get()
        #expect(s["port"] == 8080)
        #expect(s["retries"] == .null)
        #expect(s["enabled"] == false)
        #expect(s["tags"] == ["t1"])
    }
}
