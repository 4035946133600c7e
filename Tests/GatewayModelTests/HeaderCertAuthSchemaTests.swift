import GatewayModel
import Testing

@Suite("header-cert-auth config")
struct HeaderCertAuthSchemaTests {
    static let required: JSONObject = [
        "ca_certificates": [.string(Fixture.caID)],
        "certificate_header_name": "X-Amzn-Mtls-Clientcert",
        "certificate_header_format": "url_encoded",
    ]

    /// A context where the CA exists and the control plane has `--trusted-ips`, so `secure_source` is satisfied.
    static let trusted = Fixture.context(trustedIPs: ["10.0.0.0/8"], existing: [("ca_certificates", Fixture.caID)])
    static let untrusted = Fixture.context(existing: [("ca_certificates", Fixture.caID)])

    static let secureSourceMessage = "secure_source is true but no trusted sources are configured: set "
        + "config.trusted_sources to the load balancer's addresses (CIDRs), start the control plane with "
        + "--trusted-ips, or set secure_source to false"

    func plugin(_ config: JSONObject, context: ValidationContext = Self.trusted) -> Result<JSONObject, ValidationErrors> {
        Fixture.create(.plugins, ["name": "header-cert-auth", "config": .object(config)], context: context)
    }

    func config(_ extra: JSONObject, context: ValidationContext = Self.trusted) throws -> JSONObject {
        var c = Self.required
        for (k, v) in extra { c[k] = v }
        let p = try self.plugin(c, context: context).get()
        return try #require(p["config"]?.objectValue)
    }

    func errors(_ extra: JSONObject, context: ValidationContext = Self.trusted) throws -> ValidationErrors {
        var c = Self.required
        for (k, v) in extra { c[k] = v }
        guard case .failure(let e) = self.plugin(c, context: context) else {
            Issue.record("expected a validation failure for \(extra)")
            throw Fixture.FixtureError.unexpected
        }
        return e
    }

    @Test func everyDefault() throws {
        let c = try self.config([:])
        let expected: JSONObject = [
            "ca_certificates": [.string(Fixture.caID)],
            "certificate_header_name": "X-Amzn-Mtls-Clientcert",
            "certificate_header_format": "url_encoded",
            "secure_source": true,
            "trusted_sources": [],
            "allow_partial_chain": false,
            "revocation_check_mode": "IGNORE_CA_ERROR",
            "cert_cache_ttl": 60000,
            "cache_ttl": 60,
            "consumer_by": ["username", "custom_id"],
            "skip_consumer_lookup": false,
            "forward_client_cert": false,
            "anonymous": nil,
            "default_consumer": nil,
            "authenticated_group_by": "CN",
            "http_timeout": 30000,
            "http_proxy_host": nil,
            "http_proxy_port": nil,
            "https_proxy_host": nil,
            "https_proxy_port": nil,
            "ssl_verify": true,
        ]
        #expect(c == expected)
    }

    @Test func requiredTrio() throws {
        guard case .failure(let e) = self.plugin([:]) else {
            Issue.record("expected a failure")
            return
        }
        #expect(e.message == "3 schema violations (config.ca_certificates: required field missing; "
            + "config.certificate_header_format: required field missing; "
            + "config.certificate_header_name: required field missing)")
        #expect(e.fieldsJSON == ["config": [
            "ca_certificates": "required field missing",
            "certificate_header_format": "required field missing",
            "certificate_header_name": "required field missing",
        ]])
        // A plugin without any config gets the same answer.
        guard case .failure(let noConfig) = Fixture.create(.plugins, ["name": "header-cert-auth"], context: Self.trusted)
        else {
            Issue.record("expected a failure")
            return
        }
        #expect(noConfig == e)
    }

    @Test func caCertificates() throws {
        #expect(try self.errors(["ca_certificates": []]).message
            == "schema violation (config.ca_certificates: length must be at least 1)")
        #expect(try self.errors(["ca_certificates": ["my-ca"]]).message
            == "schema violation (config.ca_certificates[1]: expected a valid UUID)")
        let missing = try self.errors(["ca_certificates": [.string(Fixture.caID), .string(Fixture.otherCAID)]])
        #expect(missing.message == "schema violation (config.ca_certificates[2]: ca_certificate "
            + "'\(Fixture.otherCAID)' does not exist)")
        #expect(missing.fieldsJSON == ["config": ["ca_certificates": [
            nil, .string("ca_certificate '\(Fixture.otherCAID)' does not exist"),
        ]]])
        let both = Fixture.context(trustedIPs: ["10.0.0.0/8"], existing: [
            ("ca_certificates", Fixture.caID), ("ca_certificates", Fixture.otherCAID),
        ])
        _ = try self.config(["ca_certificates": [.string(Fixture.caID), .string(Fixture.otherCAID)]], context: both)
        // Only ca_certificates entities count, not another type with the same id.
        let wrongType = Fixture.context(trustedIPs: ["10.0.0.0/8"], existing: [("certificates", Fixture.caID)])
        #expect(try self.errors([:], context: wrongType).messageAt("config.ca_certificates.0")
            == "ca_certificate '\(Fixture.caID)' does not exist")
    }

    @Test func headerName() throws {
        #expect(try self.errors(["certificate_header_name": "X Client Cert"]).message
            == "schema violation (config.certificate_header_name: bad header name 'X Client Cert', "
            + "allowed characters are A-Z, a-z, 0-9, '_', and '-')")
        #expect(try self.errors(["certificate_header_name": ""]).message
            == "schema violation (config.certificate_header_name: length must be at least 1)")
    }

    @Test(arguments: [
        ("certificate_header_format", "pem", "expected one of: base64_encoded, url_encoded, rfc9440, xfcc"),
        ("certificate_header_format", "URL_ENCODED", "expected one of: base64_encoded, url_encoded, rfc9440, xfcc"),
        ("revocation_check_mode", "skip", "expected one of: SKIP, IGNORE_CA_ERROR, STRICT"),
        ("revocation_check_mode", "OCSP", "expected one of: SKIP, IGNORE_CA_ERROR, STRICT"),
        ("authenticated_group_by", "SAN", "expected one of: CN, DN"),
    ] as [(String, JSON, String)])
    func enumsRejectBadValues(field: String, value: JSON, message: String) throws {
        #expect(try self.errors([field: value]).message == "schema violation (config.\(field): \(message))")
    }

    @Test func enumsAcceptEveryAllowedValue() throws {
        for f: JSON in ["base64_encoded", "url_encoded", "rfc9440", "xfcc"] {
            #expect(try self.config(["certificate_header_format": f])["certificate_header_format"] == f)
        }
        for m: JSON in ["SKIP", "IGNORE_CA_ERROR", "STRICT"] {
            #expect(try self.config(["revocation_check_mode": m])["revocation_check_mode"] == m)
        }
        for g: JSON in ["CN", "DN"] {
            #expect(try self.config(["authenticated_group_by": g])["authenticated_group_by"] == g)
        }
        // authenticated_group_by is nullable.
        #expect(try self.config(["authenticated_group_by": nil])["authenticated_group_by"] == .null)
    }

    @Test func consumerBy() throws {
        #expect(try self.config(["consumer_by": ["custom_id"]])["consumer_by"] == ["custom_id"])
        #expect(try self.config(["consumer_by": []])["consumer_by"] == [])
        #expect(try self.errors(["consumer_by": ["username", "id"]]).message
            == "schema violation (config.consumer_by[2]: expected one of: username, custom_id)")
    }

    @Test func numbers() throws {
        let c = try self.config(["cert_cache_ttl": 0, "cache_ttl": 1.5, "http_timeout": 2147483647])
        #expect(c["cert_cache_ttl"] == 0)
        #expect(c["cache_ttl"] == 1.5)
        #expect(c["http_timeout"] == 2147483647)
        let e = try self.errors(["cert_cache_ttl": -1, "cache_ttl": 2147483648, "http_timeout": "fast"])
        #expect(e.fieldsJSON == ["config": [
            "cert_cache_ttl": "value should be between 0 and 2147483647",
            "cache_ttl": "value should be between 0 and 2147483647",
            "http_timeout": "expected a number",
        ]])
    }

    @Test func booleans() throws {
        for f in ["secure_source", "allow_partial_chain", "skip_consumer_lookup", "ssl_verify"] {
            #expect(try self.errors([f: "true"]).message == "schema violation (config.\(f): expected a boolean)")
            #expect(try self.errors([f: nil]).message == "schema violation (config.\(f): required field missing)")
        }
    }

    @Test func secureSourceNeedsTrustedSources() throws {
        // Neither the plugin nor the gateway names a trusted source.
        let e = try self.errors([:], context: Self.untrusted)
        #expect(e.message == "schema violation (config.secure_source: \(Self.secureSourceMessage))")
        #expect(e.fieldsJSON == ["config": ["secure_source": .string(Self.secureSourceMessage)]])
        #expect(try self.errors(["secure_source": true, "trusted_sources": []], context: Self.untrusted)
            .messageAt("config.secure_source") == Self.secureSourceMessage)

        // Own trusted sources are enough.
        let own = try self.config(["trusted_sources": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"]],
                                  context: Self.untrusted)
        #expect(own["trusted_sources"] == ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"])
        // So are the gateway's --trusted-ips.
        #expect(try self.config([:], context: Self.trusted)["secure_source"] == true)
        // And secure_source false needs neither.
        #expect(try self.config(["secure_source": false], context: Self.untrusted)["secure_source"] == false)
    }

    @Test func trustedSourcesMustBeCIDRs() throws {
        let e = try self.errors(["trusted_sources": ["10.0.0.0/8", "10.0.0.0/33", "alb.internal", "::1/129"]],
                                context: Self.untrusted)
        #expect(e.fieldsJSON == ["config": ["trusted_sources": [
            nil, "invalid ip or cidr range: '10.0.0.0/33'", "invalid ip or cidr range: 'alb.internal'",
            "invalid ip or cidr range: '::1/129'",
        ]]])
        #expect(e.lines.count == 3)
        #expect(try self.errors(["trusted_sources": "10.0.0.0/8"]).message
            == "schema violation (config.trusted_sources: expected an array)")
    }

    @Test func proxyHostsAndPortsGoTogether() throws {
        let c = try self.config(["http_proxy_host": "proxy.internal", "http_proxy_port": 3128,
                                 "https_proxy_host": "10.0.0.5", "https_proxy_port": 3129])
        #expect(c["http_proxy_port"] == 3128)
        #expect(try self.errors(["http_proxy_host": "proxy.internal"]).message
            == "schema violation (config.http_proxy_port: required field missing (http_proxy_host and "
            + "http_proxy_port go together))")
        #expect(try self.errors(["https_proxy_port": 3129]).message
            == "schema violation (config.https_proxy_host: required field missing (https_proxy_host and "
            + "https_proxy_port go together))")
        let bad = try self.errors(["http_proxy_host": "bad host", "http_proxy_port": 70000])
        #expect(bad.fieldsJSON == ["config": [
            "http_proxy_host": "invalid hostname: bad host",
            "http_proxy_port": "value should be between 0 and 65535",
        ]])
    }

    @Test func crossFieldProblemsAreReportedTogether() throws {
        let e = try self.errors(["ca_certificates": [.string(Fixture.otherCAID)], "https_proxy_host": "p"],
                                context: Self.untrusted)
        #expect(e.lines == [
            "config.ca_certificates[1]: ca_certificate '\(Fixture.otherCAID)' does not exist",
            "config.https_proxy_port: required field missing (https_proxy_host and https_proxy_port go together)",
            "config.secure_source: \(Self.secureSourceMessage)",
        ])
        #expect(e.message.hasPrefix("3 schema violations (config.ca_certificates[1]: "))
    }

    @Test func stringFieldsAreStrings() throws {
        let c = try self.config(["anonymous": "guest", "default_consumer": .string(Fixture.consumerID)])
        #expect(c["anonymous"] == "guest")
        #expect(try self.errors(["anonymous": 5]).message == "schema violation (config.anonymous: expected a string)")
        #expect(try self.errors(["default_consumer": ""]).message
            == "schema violation (config.default_consumer: length must be at least 1)")
    }
}
