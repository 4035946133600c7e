import GatewayModel
import Testing
import TestSupport

/// Shortcuts for loading declarative text.
enum Declarative {
    static func load(
        _ text: String,
        trustedIPs: [String] = [],
        now: Int64 = Fixture.now,
        existing: (String, String) -> JSONObject? = { _, _ in nil }
    ) throws -> Result<ConfigContent, GatewayError> {
        let doc = try DeclarativeLoader.parseText(text)
        return DeclarativeLoader.load(doc, trustedIPs: trustedIPs, now: now, existing: existing)
    }

    static func content(
        _ text: String,
        trustedIPs: [String] = [],
        now: Int64 = Fixture.now,
        existing: (String, String) -> JSONObject? = { _, _ in nil },
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> ConfigContent {
        switch try self.load(text, trustedIPs: trustedIPs, now: now, existing: existing) {
        case .success(let c): return c
        case .failure(let e):
            Issue.record("unexpected load failure: \(e.message)", sourceLocation: sourceLocation)
            throw Fixture.FixtureError.unexpected
        }
    }

    static func error(
        _ text: String,
        trustedIPs: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> GatewayError {
        switch try self.load(text, trustedIPs: trustedIPs) {
        case .success:
            Issue.record("expected the document to be rejected", sourceLocation: sourceLocation)
            throw Fixture.FixtureError.unexpected
        case .failure(let e):
            #expect(e.status == 400, sourceLocation: sourceLocation)
            #expect(e.code == 14, sourceLocation: sourceLocation)
            #expect(e.name == "invalid declarative configuration", sourceLocation: sourceLocation)
            return e
        }
    }

    static func id(_ content: ConfigContent, _ type: String, _ key: String, _ value: String) -> String? {
        content[type].first { $0[key]?.stringValue == value }?["id"]?.stringValue
    }
}

@Suite("Declarative loading")
struct DeclarativeLoaderTests {
    @Test func exampleFileLoadsCleanly() throws {
        let content = try Declarative.content(try Repo.text("examples/alb-mtls.yaml"))
        #expect(content.counts == ["ca_certificates": 1, "services": 1, "routes": 2, "consumers": 1, "plugins": 1,
                                   "header_cert_auth_credentials": 0])
        let service = try #require(content["services"].first)
        // UUIDv5("services:name:echo-svc") in our namespace, as Python's uuid.uuid5 computes it.
        #expect(service["id"] == "df3770a8-c61a-5d08-ba4b-9955bdc798b7")
        #expect(service["protocol"] == "http")
        #expect(service["host"] == "127.0.0.1")
        #expect(service["port"] == 9000)
        #expect(service["path"] == "/anything")
        #expect(service["created_at"] == .int(Fixture.now))

        let mtls = try #require(content["routes"].first { $0["name"] == "mtls" })
        #expect(mtls["service"] == ["id": "df3770a8-c61a-5d08-ba4b-9955bdc798b7"])
        #expect(mtls["id"] == .string(UUIDString.v5("routes:name:mtls")))
        #expect(mtls["paths"] == ["/mtls"])

        let plugin = try #require(content["plugins"].first)
        #expect(plugin["route"] == ["id": mtls["id"]!])
        #expect(plugin["service"] == .null)
        #expect(plugin["config"]?["ca_certificates"] == ["7c3f0a4e-0000-4000-8000-000000000001"])
        #expect(plugin["config"]?["trusted_sources"] == ["127.0.0.1/32", "::1/128"])
        #expect(plugin["config"]?["revocation_check_mode"] == "SKIP")
        #expect(plugin["config"]?["cache_ttl"] == 60)
        #expect(plugin["protocols"] == ["grpc", "grpcs", "http", "https"])
        #expect(plugin["tags"] == ["alb-mtls-demo"])

        let ca = try #require(content["ca_certificates"].first)
        #expect(ca["id"] == "7c3f0a4e-0000-4000-8000-000000000001")
        #expect(ca["cert_digest"]?.stringValue?.count == 64)
        #expect(content["consumers"].first?["username"] == "client.example.com")
        #expect(content.trustedIPs == [])
    }

    @Test func topLevelReferencesByNameAndID() throws {
        let content = try Declarative.content("""
            _format_version: "3.0"
            _comment: tool metadata is ignored
            _info: {select_tags: [x]}
            services:
              - name: svc
                id: 11111111-1111-4111-8111-111111111111
                host: upstream.internal
            routes:
              - {name: by-name, paths: [/a], service: svc}
              - {name: by-id, paths: [/b], service: 11111111-1111-4111-8111-111111111111}
              - {name: by-id-object, paths: [/c], service: {id: 11111111-1111-4111-8111-111111111111}}
              - {name: by-name-object, paths: [/d], service: {name: svc}}
              - {name: by-upper-id, paths: [/e], service: 11111111-1111-4111-8111-111111111111}
              - {name: unbound, paths: [/f]}
            consumers:
              - username: alice
                _comment: comments on entities are dropped
            header_cert_auth_credentials:
              - {consumer: alice, subject_name: alice.example.com}
            plugins:
              - name: header-cert-auth
                service: svc
                config:
                  ca_certificates: [7c3f0a4e-0000-4000-8000-000000000001]
                  certificate_header_name: X-Client-Cert
                  certificate_header_format: base64_encoded
                  secure_source: false
            ca_certificates:
              - id: 7c3f0a4e-0000-4000-8000-000000000001
                cert: \(try Self.exampleCA().debugDescription)
            """)
        let svc: JSONObject = ["id": JSON.string(Fixture.serviceID)]
        for name in ["by-name", "by-id", "by-id-object", "by-name-object", "by-upper-id"] {
            #expect(content["routes"].first { $0["name"]?.stringValue == name }?["service"] == .object(svc), "\(name)")
        }
        #expect(content["routes"].first { $0["name"] == "unbound" }?["service"] == .null)
        #expect(content["consumers"].first?["_comment"] == nil)
        let alice = try #require(Declarative.id(content, "consumers", "username", "alice"))
        #expect(content["header_cert_auth_credentials"].first?["consumer"] == ["id": .string(alice)])
        #expect(content["plugins"].first?["service"] == .object(svc))
    }

    @Test func pluginConfigMustReferenceExistingCAsByID() throws {
        let e = try Declarative.error("""
            _format_version: "3.0"
            plugins:
              - name: header-cert-auth
                config:
                  ca_certificates: [7c3f0a4e-0000-4000-8000-000000000002]
                  certificate_header_name: X-Client-Cert
                  certificate_header_format: url_encoded
                  trusted_sources: [10.0.0.0/8]
            """)
        #expect(e.message == "declarative config is invalid: plugins[1].config.ca_certificates[1]: ca_certificate "
            + "'7c3f0a4e-0000-4000-8000-000000000002' does not exist")
        #expect(e.fields == ["plugins[1]": ["config": ["ca_certificates": [
            "ca_certificate '7c3f0a4e-0000-4000-8000-000000000002' does not exist",
        ]]]])
    }

    @Test func nestedEntitiesGetTheirParent() throws {
        let content = try Declarative.content("""
            _format_version: "3.0"
            consumers:
              - username: bob
                header_cert_auth_credentials:
                  - subject_name: bob.example.com
            services:
              - name: s
                host: h
                routes:
                  - name: r
                    paths: [/]
                    plugins:
                      - name: header-cert-auth
                        config: {ca_certificates: [7c3f0a4e-0000-4000-8000-000000000001],
                                 certificate_header_name: X-C, certificate_header_format: url_encoded}
                plugins:
                  - name: header-cert-auth
                    config: {ca_certificates: [7c3f0a4e-0000-4000-8000-000000000001],
                             certificate_header_name: X-D, certificate_header_format: url_encoded}
            ca_certificates:
              - id: 7c3f0a4e-0000-4000-8000-000000000001
                cert: \(try Self.exampleCA().debugDescription)
            """, trustedIPs: ["10.0.0.0/8"])
        let s = try #require(Declarative.id(content, "services", "name", "s"))
        let r = try #require(Declarative.id(content, "routes", "name", "r"))
        let bob = try #require(Declarative.id(content, "consumers", "username", "bob"))
        #expect(content["routes"].first?["service"] == ["id": .string(s)])
        let routePlugin = try #require(content["plugins"].first { $0["route"]?.isNull == false })
        #expect(routePlugin["route"] == ["id": .string(r)])
        #expect(routePlugin["service"] == .null)
        let servicePlugin = try #require(content["plugins"].first { $0["service"]?.isNull == false })
        #expect(servicePlugin["service"] == ["id": .string(s)])
        #expect(servicePlugin["route"] == .null)
        #expect(content["header_cert_auth_credentials"].first?["consumer"] == ["id": .string(bob)])
        #expect(content.trustedIPs == ["10.0.0.0/8"])
    }

    @Test func nestedEntityCannotPointElsewhere() throws {
        let e = try Declarative.error("""
            _format_version: "3.0"
            services:
              - name: a
                host: h
              - name: b
                host: h
                routes:
                  - {name: r, paths: [/], service: a}
            """)
        #expect(e.message == "declarative config is invalid: services[2].routes[1].service: "
            + "must not be set on a nested entity (it is the enclosing one)")
        // Naming the enclosing entity by id is tolerated.
        let id = UUIDString.v5("services:name:b")
        _ = try Declarative.content("""
            _format_version: "3.0"
            services:
              - name: b
                host: h
                routes:
                  - {name: r, paths: [/], service: \(id)}
            """)
    }

    @Test func unknownReference() throws {
        let e = try Declarative.error("""
            _format_version: "3.0"
            routes:
              - {name: r, paths: [/], service: nope}
            """)
        #expect(e.message
            == "declarative config is invalid: routes[1].service: invalid reference 'service: nope' (no such entry in 'services')")
        #expect(e.fields == ["routes[1].service": "invalid reference 'service: nope' (no such entry in 'services')"])
        #expect(e.json["code"] == 14)

        let two = try Declarative.error("""
            _format_version: "3.0"
            consumers: [{username: u}]
            header_cert_auth_credentials:
              - {consumer: ghost, subject_name: x, ca_certificate: 7c3f0a4e-0000-4000-8000-000000000009}
            """)
        #expect(two.message == "declarative config is invalid: 2 errors ("
            + "header_cert_auth_credentials[1].consumer: invalid reference 'consumer: ghost' (no such entry in 'consumers'); "
            + "header_cert_auth_credentials[1].ca_certificate: invalid reference "
            + "'ca_certificate: 7c3f0a4e-0000-4000-8000-000000000009' (no such entry in 'ca_certificates'))")
    }

    static func exampleCA() throws -> String {
        let doc = try DeclarativeLoader.parseText(try Repo.text("examples/alb-mtls.yaml"))
        return try #require(doc["ca_certificates"]?.arrayValue?.first?["cert"]?.stringValue)
    }
}
