import GatewayModel
import Testing
import TestSupport

@Suite("Declarative ids, timestamps and export")
struct DeclarativeRoundTripTests {
    /// The example file plus everything else the loader knows about: top-level references, stream routes,
    /// credentials, fractional numbers and strings YAML could mistype.
    static func richDocument() throws -> JSON {
        var doc = try DeclarativeLoader.parseText(try Repo.text("examples/alb-mtls.yaml"))
        let extra = try DeclarativeLoader.parseText(#"""
            services:
              - {name: second, url: "https://second.internal:8443/base", retries: 0}
            consumers:
              - custom_id: "4711"
                header_cert_auth_credentials:
                  - subject_name: "true"
                    ca_certificate: 7c3f0a4e-0000-4000-8000-000000000001
                    tags: ["null", "3.0", "~"]
            routes:
              - name: regex
                protocols: [https]
                paths: ['~/users/\d+$']
                headers: {x-version: ["1", "2"]}
                snis: [api.example.com]
                service: second
                regex_priority: 10
              - name: stream
                protocols: [tcp]
                sources: [{ip: 10.0.0.0/8}, {port: 2222}]
            plugins:
              - name: header-cert-auth
                service: second
                protocols: [https]
                enabled: false
                config:
                  ca_certificates: ["7c3f0a4e-0000-4000-8000-000000000001"]
                  certificate_header_name: X-Client-Cert
                  certificate_header_format: base64_encoded
                  cache_ttl: 1.5
                  consumer_by: [custom_id]
                  http_proxy_host: proxy.internal
                  http_proxy_port: 3128
            """#)
        for (type, rows) in extra.objectValue ?? [:] {
            doc[type] = .array((doc[type]?.arrayValue ?? []) + (rows.arrayValue ?? []))
        }
        return doc
    }

    static func content(now: Int64 = Fixture.now, existing: (String, String) -> JSONObject? = { _, _ in nil })
        throws -> ConfigContent
    {
        switch DeclarativeLoader.load(try Self.richDocument(), trustedIPs: ["192.0.2.0/24"], now: now,
                                      existing: existing)
        {
        case .success(let c): return c
        case .failure(let e):
            Issue.record("rich document does not load: \(e.message)")
            throw Fixture.FixtureError.unexpected
        }
    }

    @Test func deterministicIDsAreStableAcrossLoads() throws {
        let a = try Self.content()
        let b = try Self.content()
        #expect(a == b)
        #expect(a.canonicalBytes() == b.canonicalBytes())
        #expect(a.counts == ["ca_certificates": 1, "services": 2, "routes": 4, "consumers": 2, "plugins": 2,
                             "header_cert_auth_credentials": 1])
        for type in ["services", "routes", "consumers", "plugins", "header_cert_auth_credentials"] {
            for e in a[type] { #expect(UUIDString.isValid(e["id"]?.stringValue ?? ""), "\(type)") }
        }
        // Named entities get their id from the name alone.
        #expect(Declarative.id(a, "services", "name", "second") == UUIDString.v5("services:name:second"))
        #expect(Declarative.id(a, "consumers", "username", "client.example.com")
            == UUIDString.v5("consumers:username:client.example.com"))
    }

    @Test func contentDerivedIDsFollowTheContent() throws {
        func pluginID(_ headerName: String, route: String = "r") throws -> String {
            let c = try Declarative.content("""
                _format_version: "3.0"
                routes:
                  - name: \(route)
                    paths: [/]
                    plugins:
                      - name: header-cert-auth
                        config: {ca_certificates: [\(Fixture.caID)], certificate_header_name: \(headerName),
                                 certificate_header_format: url_encoded, secure_source: false}
                ca_certificates:
                  - id: \(Fixture.caID)
                    cert: \(try DeclarativeLoaderTests.exampleCA().debugDescription)
                """)
            return try #require(c["plugins"].first?["id"]?.stringValue)
        }
        let first = try pluginID("X-A")
        #expect(try pluginID("X-A") == first)
        // A plugin's id comes from its cache key (name and scope): editing its config keeps the id.
        #expect(try pluginID("X-B") == first)
        #expect(try pluginID("X-A", route: "other") != first)
    }

    @Test func unchangedReimportKeepsTimestamps() throws {
        let first = try Self.content(now: 1000)
        let lookup = { (type: String, id: String) in first[type].first { $0["id"]?.stringValue == id } }
        let again = try Self.content(now: 2000, existing: lookup)
        #expect(again.canonicalBytes() == first.canonicalBytes())
        // Without the stored entities every timestamp moves.
        let fresh = try Self.content(now: 2000)
        #expect(fresh["services"].allSatisfy { $0["created_at"] == 2000 && $0["updated_at"] == 2000 })
    }

    @Test func changedEntityKeepsCreatedAtOnly() throws {
        let before = try Declarative.content("""
            _format_version: "3.0"
            services: [{name: a, host: a.internal}, {name: b, host: b.internal}]
            """, now: 1000)
        let lookup = { (type: String, id: String) in before[type].first { $0["id"]?.stringValue == id } }
        let after = try Declarative.content("""
            _format_version: "3.0"
            services: [{name: a, host: a.internal}, {name: b, host: b2.internal}, {name: c, host: c.internal}]
            """, now: 2000, existing: lookup)
        let byName = Dictionary(uniqueKeysWithValues: after["services"].map { ($0["name"]!.stringValue!, $0) })
        #expect(byName["a"]?["created_at"] == 1000)
        #expect(byName["a"]?["updated_at"] == 1000)
        #expect(byName["b"]?["created_at"] == 1000)
        #expect(byName["b"]?["updated_at"] == 2000)
        #expect(byName["c"]?["created_at"] == 2000)
        #expect(byName["c"]?["updated_at"] == 2000)

        // Timestamps written in the document win over stored ones.
        let explicit = try Declarative.content("""
            _format_version: "3.0"
            services: [{name: a, host: a.internal, created_at: 5, updated_at: 6}]
            """, now: 2000, existing: lookup)
        #expect(explicit["services"].first?["created_at"] == 5)
        #expect(explicit["services"].first?["updated_at"] == 6)
    }

    @Test func exportThenLoadGivesIdenticalBytes() throws {
        let original = try Self.content()
        let exported = DeclarativeExporter.document(original)
        #expect(exported["_format_version"] == "3.0")
        #expect(exported["_trusted_ips"] == ["192.0.2.0/24"])
        // Foreign keys are plain ids, and null fields without a default are left out.
        let plugin = try #require(exported["plugins"]?.arrayValue?.first { $0["route"] != nil })
        #expect(plugin["route"]?.stringValue.map(UUIDString.isValid) == true)
        #expect(plugin["service"] == nil)
        #expect(plugin["config"]?["anonymous"] == nil)
        #expect(plugin["config"]?["authenticated_group_by"] == "CN")

        let reloaded = DeclarativeLoader.load(exported, trustedIPs: original.trustedIPs, now: Fixture.now + 999)
        let content = try reloaded.get()
        #expect(content.canonicalBytes() == original.canonicalBytes())
        #expect(content == original)

        // The same through YAML text, PEM blocks and number-like strings included.
        let yaml = YAMLBridge.emit(exported)
        let fromYAML = try Declarative.content(yaml, trustedIPs: original.trustedIPs, now: Fixture.now + 999)
        #expect(fromYAML.canonicalBytes() == original.canonicalBytes())
        // Exporting again is stable.
        #expect(JSONWriter.bytes(DeclarativeExporter.document(fromYAML)) == JSONWriter.bytes(exported))
    }

    @Test func exportOmitsEmptyTypes() throws {
        let c = try Declarative.content("_format_version: \"3.0\"\nconsumers: [{username: u}]")
        let doc = DeclarativeExporter.document(c)
        #expect(Set(doc.objectValue?.keys ?? []) == ["_format_version", "consumers"])
        #expect(doc["consumers"]?.arrayValue?.first?["custom_id"] == nil)
    }
}
