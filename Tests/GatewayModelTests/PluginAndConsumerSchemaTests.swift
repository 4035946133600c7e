import GatewayModel
import Testing

@Suite("consumers")
struct ConsumerSchemaTests {
    @Test func usernameOrCustomID() throws {
        let u = try Fixture.valid(.consumers, ["username": "client.example.com"])
        #expect(u["custom_id"] == .null)
        #expect(u["tags"] == .null)
        let c = try Fixture.valid(.consumers, ["custom_id": "4711"])
        #expect(c["username"] == .null)
        _ = try Fixture.valid(.consumers, ["username": "a", "custom_id": "b", "tags": ["x"]])

        let none = try Fixture.invalid(.consumers, [:])
        let message = "at least one of these fields must be non-empty: 'custom_id', 'username'"
        #expect(none.message == "schema violation (\(message))")
        #expect(none.fieldsJSON == ["@entity": [.string(message)]])
        let nulls = try Fixture.invalid(.consumers, ["username": nil, "custom_id": nil])
        #expect(nulls.entity == [message])
    }

    @Test func emptyAndMistypedValues() throws {
        let e = try Fixture.invalid(.consumers, ["username": "", "custom_id": 5])
        #expect(e.fieldsJSON == ["username": "length must be at least 1", "custom_id": "expected a string"])
    }

    @Test func keysForAdminLookupAndUniqueness() {
        #expect(EntitySchema.consumers.endpointKey == "username")
        #expect(EntitySchema.consumers.uniqueFields == ["custom_id"])
        #expect(UniquenessCheck.uniqueKeys(.consumers, ["username": "a", "custom_id": "b"]) == [
            ["username": "a"], ["custom_id": "b"],
        ])
    }
}

@Suite("plugins")
struct PluginSchemaTests {
    /// A minimal valid header-cert-auth plugin body.
    static func body(_ extra: JSONObject = [:], config: JSONObject = [:]) -> JSONObject {
        var c: JSONObject = [
            "ca_certificates": [.string(Fixture.caID)],
            "certificate_header_name": "X-Client-Cert",
            "certificate_header_format": "url_encoded",
            "trusted_sources": ["10.0.0.0/8"],
        ]
        for (k, v) in config { c[k] = v }
        var b: JSONObject = ["name": "header-cert-auth", "config": .object(c)]
        for (k, v) in extra { b[k] = v }
        return b
    }

    static let context = Fixture.context(existing: [("ca_certificates", Fixture.caID)])

    @Test func registry() {
        #expect(PluginSchema.available.keys.sorted() == ["header-cert-auth", "request-termination"])
        let schema = PluginSchema.headerCertAuth
        #expect(schema.priority == 1009)
        #expect(schema.noConsumer)
        #expect(schema.protocols == ["grpc", "grpcs", "http", "https"])
    }

    @Test func entityDefaults() throws {
        let p = try Fixture.valid(.plugins, Self.body(), context: Self.context)
        #expect(p["enabled"] == true)
        #expect(p["protocols"] == ["grpc", "grpcs", "http", "https"])
        for f in ["route", "service", "consumer", "instance_name", "tags", "ordering"] {
            #expect(p[f] == .null, "\(f)")
        }
    }

    @Test func unknownPluginName() throws {
        // Only the name is reported: the rest of the body cannot be judged without the plugin's schema.
        let e = try Fixture.invalid(.plugins, ["name": "rate-limiting", "config": ["minute": 5]])
        #expect(e.message == "schema violation (name: plugin 'rate-limiting' not enabled; available plugins: header-cert-auth, request-termination)")
        #expect(e.fieldsJSON == ["name": "plugin 'rate-limiting' not enabled; available plugins: header-cert-auth, request-termination"])
        let withProtocols = try Fixture.invalid(.plugins, ["name": "rate-limiting", "config": [:],
                                                           "protocols": ["http"]])
        #expect(withProtocols.fieldsJSON == e.fieldsJSON)
        let withoutConfig = try Fixture.invalid(.plugins, ["name": "rate-limiting"])
        #expect(withoutConfig.fieldsJSON == e.fieldsJSON)
    }

    @Test func nameIsRequired() throws {
        let e = try Fixture.invalid(.plugins, ["config": [:], "protocols": ["http"]])
        #expect(e.messageAt("name") == "required field missing")
    }

    @Test func cannotBeScopedToAConsumer() throws {
        let e = try Fixture.invalid(.plugins, Self.body(["consumer": ["id": .string(Fixture.consumerID)]]),
                                    context: Self.context)
        #expect(e.message
            == "schema violation (consumer: value must be null (header-cert-auth cannot be configured on a consumer))")
        _ = try Fixture.valid(.plugins, Self.body(["route": ["id": .string(Fixture.routeID)],
                                                    "service": ["id": .string(Fixture.serviceID)]]),
                              context: Self.context)
    }

    @Test func protocolsMustBeASubsetOfThePlugins() throws {
        let e = try Fixture.invalid(.plugins, Self.body(["protocols": ["http", "tcp", "ws"]]), context: Self.context)
        #expect(e.fieldsJSON == ["protocols": [nil, "expected one of: grpc, grpcs, http, https",
                                               "expected one of: grpc, grpcs, http, https"]])
        #expect(e.message == "2 schema violations (protocols[2]: expected one of: grpc, grpcs, http, https; "
            + "protocols[3]: expected one of: grpc, grpcs, http, https)")
        let p = try Fixture.valid(.plugins, Self.body(["protocols": ["https", "https"]]), context: Self.context)
        #expect(p["protocols"] == ["https"])
        let empty = try Fixture.invalid(.plugins, Self.body(["protocols": []]), context: Self.context)
        #expect(empty.message == "schema violation (protocols: length must be at least 1)")
    }

    @Test func configUnknownFieldsAndTypes() throws {
        let e = try Fixture.invalid(.plugins, Self.body(config: ["nope": 1, "ssl_verify": "yes"]),
                                    context: Self.context)
        #expect(e.fieldsJSON == ["config": ["nope": "unknown field", "ssl_verify": "expected a boolean"]])
        let notRecord = try Fixture.invalid(.plugins, ["name": "header-cert-auth", "config": "x"],
                                            context: Self.context)
        #expect(notRecord.message == "schema violation (config: expected a record)")
    }

    @Test func enabledAndInstanceName() throws {
        let p = try Fixture.valid(.plugins, Self.body(["enabled": false, "instance_name": "alb-auth"]),
                                  context: Self.context)
        #expect(p["enabled"] == false)
        #expect(p["instance_name"] == "alb-auth")
        let e = try Fixture.invalid(.plugins, Self.body(["instance_name": "a b"]), context: Self.context)
        #expect(e.messageAt("instance_name")
            == "invalid value 'a b': the only accepted ascii characters are alphanumerics or ., -, _, and ~")
    }

    @Test func patchDeepMergesConfig() throws {
        let stored = try Fixture.valid(.plugins, Self.body(["tags": ["a"]], config: ["cache_ttl": 120]),
                                       context: Self.context)
        let later = Fixture.context(now: Fixture.now + 5, existing: [("ca_certificates", Fixture.caID)])
        let patched = try EntityWriter.prepare(
            .plugins, input: ["config": ["revocation_check_mode": "STRICT", "trusted_sources": ["192.0.2.0/24"]]],
            existing: stored, kind: .update, coerceStrings: false, context: later
        ).get()
        let config = try #require(patched["config"]?.objectValue)
        #expect(config["revocation_check_mode"] == "STRICT")
        // Arrays are replaced, not merged.
        #expect(config["trusted_sources"] == ["192.0.2.0/24"])
        // Everything not mentioned is kept, including non-default values.
        #expect(config["cache_ttl"] == 120)
        #expect(config["ca_certificates"] == [.string(Fixture.caID)])
        #expect(config["certificate_header_name"] == "X-Client-Cert")
        #expect(config["ssl_verify"] == true)
        #expect(patched["tags"] == ["a"])
        #expect(patched["id"] == stored["id"])
        #expect(patched["created_at"] == .int(Fixture.now))
        #expect(patched["updated_at"] == .int(Fixture.now + 5))

        // The merged result is validated as a whole.
        let bad = EntityWriter.prepare(.plugins, input: ["config": ["certificate_header_format": "pem"]],
                                       existing: stored, kind: .update, coerceStrings: false, context: later)
        guard case .failure(let e) = bad else {
            Issue.record("expected a failure")
            return
        }
        #expect(e.message
            == "schema violation (config.certificate_header_format: expected one of: base64_encoded, url_encoded, "
                + "rfc9440, xfcc)")
    }

    @Test func putReplacesConfigWithDefaults() throws {
        let stored = try Fixture.valid(.plugins, Self.body(config: ["cache_ttl": 120]), context: Self.context)
        let replaced = try EntityWriter.prepare(.plugins, input: Self.body(), existing: stored, kind: .replace,
                                                coerceStrings: false, context: Self.context).get()
        #expect(replaced["config"]?["cache_ttl"] == 60)
        #expect(replaced["id"] == stored["id"])
    }

    @Test func formEncodedPlugin() throws {
        let p = try EntityWriter.prepare(.plugins, input: [
            "name": "header-cert-auth", "route": .string(Fixture.routeID),
            "config": ["ca_certificates": .string(Fixture.caID), "certificate_header_name": "X-Client-Cert",
                       "certificate_header_format": "base64_encoded", "secure_source": "false",
                       "cache_ttl": "30", "consumer_by": ["1": "custom_id"]],
        ], existing: nil, kind: .create, coerceStrings: true, context: Self.context).get()
        #expect(p["route"] == ["id": .string(Fixture.routeID)])
        #expect(p["config"]?["ca_certificates"] == [.string(Fixture.caID)])
        #expect(p["config"]?["secure_source"] == false)
        #expect(p["config"]?["cache_ttl"] == 30)
        #expect(p["config"]?["consumer_by"] == ["custom_id"])
    }
}

@Suite("header_cert_auth_credentials")
struct CredentialSchemaTests {
    @Test func requiredFieldsAndCacheKey() throws {
        let e = try Fixture.invalid(.headerCertAuthCredentials, [:])
        #expect(e.message == "2 schema violations (consumer: required field missing; subject_name: required field missing)")
        let c = try Fixture.valid(.headerCertAuthCredentials, ["consumer": ["id": .string(Fixture.consumerID)],
                                                               "subject_name": "client.example.com"])
        #expect(c["ca_certificate"] == .null)
        let schema = EntitySchema.headerCertAuthCredentials
        #expect(schema.cacheKey == ["subject_name", "ca_certificate"])
        #expect(schema.adminPath == "header-cert-auths")
        #expect(schema.nestedAdminPath == "header-cert-auth")
        #expect(schema.foreignKeys.map(\.field) == ["consumer", "ca_certificate"])
    }

    @Test func registryRelations() {
        #expect(EntityRegistry.all.map(\.name) == ["ca_certificates", "services", "routes", "consumers", "plugins",
                                                   "header_cert_auth_credentials"])
        let children = EntityRegistry.children(of: "consumers").map { "\($0.0.name).\($0.1.field)" }
        #expect(children == ["plugins.consumer", "header_cert_auth_credentials.consumer"])
        #expect(EntityRegistry.children(of: "services").map(\.0.name) == ["routes", "plugins"])
        #expect(EntityRegistry.schema("routes")?.singular == "route")
        #expect(EntityRegistry.schema("upstreams") == nil)
    }
}
