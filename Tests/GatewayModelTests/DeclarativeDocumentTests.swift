import GatewayModel
import Testing

@Suite("Declarative document rules")
struct DeclarativeDocumentTests {
    @Test func formatVersion() throws {
        let missing = try Declarative.error("services: []")
        #expect(missing.message == "declarative config is invalid: _format_version: required field missing")
        #expect(missing.fields == ["_format_version": "required field missing"])

        let old = try Declarative.error("_format_version: \"2.1\"\nservices: []")
        #expect(old.message
            == #"declarative config is invalid: _format_version: unsupported version '2.1': this gateway reads "3.0""#)
        let number = try Declarative.error("_format_version: 3.0")
        #expect(number.fields?["_format_version"]?.stringValue?.hasPrefix(#"expected the string "3.0""#) == true)

        let empty = try Declarative.content("_format_version: \"3.0\"")
        #expect(empty.counts.values.allSatisfy { $0 == 0 })
    }

    @Test func unknownEntityType() throws {
        let e = try Declarative.error("_format_version: \"3.0\"\nupstreams: []\ncertificates: []")
        let supported = "(this gateway supports: ca_certificates, services, routes, consumers, plugins, "
            + "header_cert_auth_credentials)"
        #expect(e.message == "declarative config is invalid: 2 errors (certificates: unknown entity type \(supported); "
            + "upstreams: unknown entity type \(supported))")
        #expect(e.fields?["upstreams"] == .string("unknown entity type \(supported)"))
    }

    @Test func shapeErrors() throws {
        let notObject = try Declarative.error("- a\n- b")
        #expect(notObject.message == "declarative config is invalid: expected an object at the top level")
        #expect(notObject.fields == ["@entity": ["expected an object at the top level"]])

        let notArray = try Declarative.error("_format_version: \"3.0\"\nservices: {name: s}")
        #expect(notArray.message == "declarative config is invalid: services: expected an array")

        let notEntity = try Declarative.error("_format_version: \"3.0\"\nconsumers: [alice]")
        #expect(notEntity.message == "declarative config is invalid: consumers[1]: expected an object")

        let badID = try Declarative.error("_format_version: \"3.0\"\nconsumers: [{id: 42, username: a}]")
        #expect(badID.message == "declarative config is invalid: consumers[1].id: expected a valid UUID")

        // A null section is the same as an empty one.
        _ = try Declarative.content("_format_version: \"3.0\"\nservices:\n")
    }

    @Test func validationErrorsCarryTheNestedPath() throws {
        let e = try Declarative.error("""
            _format_version: "3.0"
            services:
              - name: s
                host: h
                routes:
                  - {name: ok, paths: [/]}
                  - {name: bad, paths: [/ok, nope], methods: [get]}
            """)
        #expect(e.message == "declarative config is invalid: 2 errors ("
            + "services[1].routes[2].methods[1]: invalid value: get; "
            + "services[1].routes[2].paths[2]: should start with: / (fixed path) or ~/ (regex path))")
        #expect(e.fields == ["services[1].routes[2]": [
            "methods": ["invalid value: get"],
            "paths": [nil, "should start with: / (fixed path) or ~/ (regex path)"],
        ]])
    }

    @Test func entityLevelErrorsReadLikeFieldErrors() throws {
        let e = try Declarative.error("""
            _format_version: "3.0"
            consumers:
              - tags: [t]
            """)
        #expect(e.message == "declarative config is invalid: consumers[1]: "
            + "at least one of these fields must be non-empty: 'custom_id', 'username'")
        #expect(e.fields == ["consumers[1]": ["@entity": [
            "at least one of these fields must be non-empty: 'custom_id', 'username'",
        ]]])
    }

    @Test func duplicateNames() throws {
        let e = try Declarative.error("""
            _format_version: "3.0"
            services:
              - {name: s, host: a}
              - {name: s, host: b}
            """)
        #expect(e.message
            == "declarative config is invalid: services[2]: uniqueness violation: 'services' entity with name set to 's' already declared")
        #expect(e.fields == ["services[2]": "uniqueness violation: 'services' entity with name set to 's' already declared"])

        let ids = try Declarative.error("""
            _format_version: "3.0"
            consumers:
              - {id: 33333333-3333-4333-8333-333333333333, username: a}
              - {id: 33333333-3333-4333-8333-333333333333, username: b}
            """)
        #expect(ids.message == "declarative config is invalid: consumers[2]: uniqueness violation: 'consumers' "
            + "entity with primary key set to '33333333-3333-4333-8333-333333333333' already declared")
    }

    @Test func uniqueFieldsAcrossEntities() throws {
        let e = try Declarative.error("""
            _format_version: "3.0"
            consumers:
              - {id: 33333333-3333-4333-8333-333333333331, username: a, custom_id: same}
              - {id: 33333333-3333-4333-8333-333333333332, username: b, custom_id: same}
            """)
        #expect(e.message == "declarative config is invalid: consumers[id=33333333-3333-4333-8333-333333333332]: "
            + "UNIQUE violation detected on '{custom_id=\"same\"}' (also used by the entity with id "
            + "'33333333-3333-4333-8333-333333333331')")

        // Two plugins of the same name on the same route collide on the cache key.
        let plugins = try Declarative.error("""
            _format_version: "3.0"
            routes:
              - name: r
                paths: [/]
                plugins:
                  - {name: header-cert-auth, config: {ca_certificates: [\(Fixture.caID)], certificate_header_name: A,
                     certificate_header_format: url_encoded, secure_source: false}}
                  - {name: header-cert-auth, config: {ca_certificates: [\(Fixture.caID)], certificate_header_name: B,
                     certificate_header_format: url_encoded, secure_source: false}}
            ca_certificates:
              - id: \(Fixture.caID)
                cert: \(try DeclarativeLoaderTests.exampleCA().debugDescription)
            """)
        #expect(plugins.message.contains("UNIQUE violation detected on '{consumer=null,name=\"header-cert-auth\","
            + "route={id=\"\(UUIDString.v5("routes:name:r"))\"},service=null}'"))
    }

    @Test func pluginNestedUnderAConsumerIsRejected() throws {
        let e = try Declarative.error("""
            _format_version: "3.0"
            consumers:
              - username: u
                plugins:
                  - name: header-cert-auth
                    config: {ca_certificates: [\(Fixture.caID)], certificate_header_name: X-C,
                             certificate_header_format: url_encoded, secure_source: false}
            ca_certificates:
              - id: \(Fixture.caID)
                cert: \(try DeclarativeLoaderTests.exampleCA().debugDescription)
            """)
        #expect(e.message == "declarative config is invalid: consumers[1].plugins[1].consumer: value must be null "
            + "(header-cert-auth cannot be configured on a consumer)")
    }

    @Test func trustedIPsSatisfySecureSource() throws {
        let doc = """
            _format_version: "3.0"
            plugins:
              - name: header-cert-auth
                config: {ca_certificates: [\(Fixture.caID)], certificate_header_name: X-C,
                         certificate_header_format: url_encoded}
            ca_certificates:
              - id: \(Fixture.caID)
                cert: \(try DeclarativeLoaderTests.exampleCA().debugDescription)
            """
        let e = try Declarative.error(doc)
        #expect(e.message.hasPrefix("declarative config is invalid: plugins[1].config.secure_source: "
            + "secure_source is true but no trusted sources are configured"))
        let content = try Declarative.content(doc, trustedIPs: ["10.0.0.0/8"])
        #expect(content.trustedIPs == ["10.0.0.0/8"])
    }

    @Test func credentialsMayNameTheirCAByCertificate() throws {
        let pem = try DeclarativeLoaderTests.exampleCA()
        let content = try Declarative.content("""
            _format_version: "3.0"
            ca_certificates:
              - cert: \(pem.debugDescription)
            consumers:
              - username: u
                header_cert_auth_credentials:
                  - subject_name: u.example.com
                    ca_certificate: \(pem.debugDescription)
            """)
        let ca = try #require(content["ca_certificates"].first)
        // A CA without an id gets one derived from its digest.
        #expect(ca["id"] == .string(UUIDString.v5("ca_certificates:cert_digest:\(ca["cert_digest"]!.stringValue!)")))
        #expect(content["header_cert_auth_credentials"].first?["ca_certificate"] == ["id": ca["id"]!])
    }
}
