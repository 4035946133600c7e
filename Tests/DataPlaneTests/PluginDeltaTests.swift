import DataPlane
import GatewayModel
import Testing
import TestSupport

/// Plugin chains across deltas: kept when nothing they depend on changed, recompiled otherwise.
@Suite struct PluginDeltaTests {
    static let pluginID = UUIDString.v5("p:rt")

    /// `SnapshotApplyTests.content` plus a request-termination instance on the route of `pluginPath`.
    static func content(_ names: [String], paths: [String], pluginPath: String, stripPath: Bool = true) -> ConfigContent {
        var c = SnapshotApplyTests.content(names, paths: paths).entities
        c["routes"] = c["routes"]?.map { route in
            var route = route
            route["strip_path"] = .bool(stripPath)
            return route
        }
        c["plugins"] = [[
            "id": .string(Self.pluginID), "name": "request-termination", "instance_name": .null,
            "route": ["id": .string(UUIDString.v5("r:\(pluginPath)"))], "service": .null, "consumer": .null,
            "config": ["status_code": 403, "message": "blocked", "content_type": .null, "body": .null, "echo": false,
                       "trigger": .null],
            "protocols": ["grpc", "grpcs", "http", "https"], "enabled": true, "tags": .null, "ordering": .null,
            "created_at": 1, "updated_at": 1,
        ]]
        return ConfigContent(entities: c)
    }

    static func resolved(_ config: AppliedConfig, _ path: String) -> [String] {
        config.plugins.resolvedIDs(route: UUIDString.v5("r:\(path)"), service: SnapshotApplyTests.serviceID,
                                   consumer: nil)
    }

    static func apply(_ from: ConfigContent, _ to: ConfigContent, on config: AppliedConfig) throws -> AppliedConfig {
        let source = SnapshotApplyTests.rows(from)
        let target = SnapshotApplyTests.rows(to)
        return try SnapshotDecoder.apply(delta: source.delta(to: target).encode(), version: config.version + 1,
                                         hash: target.hash, baseHash: source.hash, maxSize: 1 << 20, to: config)
    }

    @Test func chainsFollowDeltas() throws {
        let v1 = Self.content(["a"], paths: ["/one", "/two"], pluginPath: "/one")
        let f1 = try SnapshotApplyTests.frame(v1)
        let first = try SnapshotDecoder.decode(version: 1, hash: f1.hash, size: f1.size, compressed: f1.compressed,
                                               maxSize: 1 << 20, source: .controlPlane)
        #expect(Self.resolved(first, "/one") == [Self.pluginID])
        #expect(Self.resolved(first, "/two") == [])
        #expect(first.plugins.problems.isEmpty)

        // A consumer added: the chains carry over as they are.
        let v2 = Self.content(["a", "b"], paths: ["/one", "/two"], pluginPath: "/one")
        let second = try Self.apply(v1, v2, on: first)
        #expect(second.plugins === first.plugins)

        // The plugin moves to another route: recompiled.
        let v3 = Self.content(["a", "b"], paths: ["/one", "/two"], pluginPath: "/two")
        let third = try Self.apply(v2, v3, on: second)
        #expect(third.plugins !== second.plugins)
        #expect(Self.resolved(third, "/one") == [])
        #expect(Self.resolved(third, "/two") == [Self.pluginID])

        // A route with its own chain changes (its service could have): recompiled too.
        let v4 = Self.content(["a", "b"], paths: ["/one", "/two"], pluginPath: "/two", stripPath: false)
        let fourth = try Self.apply(v3, v4, on: third)
        #expect(fourth.plugins !== third.plugins)
        #expect(Self.resolved(fourth, "/two") == [Self.pluginID])
    }

    /// `SnapshotApplyTests.content` plus a CA certificate and a global header-cert-auth instance trusting it.
    static func certAuthContent(_ names: [String], paths: [String], pki: CertAuthPKI) -> ConfigContent {
        var c = SnapshotApplyTests.content(names, paths: paths).entities
        let caID = UUIDString.v5("ca:root")
        c["ca_certificates"] = [[
            "id": .string(caID), "cert": .string(pki.root.pem), "cert_digest": .string(pki.root.sha256),
            "tags": .null, "created_at": 1, "updated_at": 1,
        ]]
        c["plugins"] = [[
            "id": .string(UUIDString.v5("p:hca")), "name": "header-cert-auth", "instance_name": .null,
            "route": .null, "service": .null, "consumer": .null,
            "config": [
                "ca_certificates": [.string(caID)], "certificate_header_name": "X-Client-Cert",
                "certificate_header_format": "url_encoded", "secure_source": true,
                "trusted_sources": ["127.0.0.1/32"], "allow_partial_chain": false,
                "revocation_check_mode": "SKIP", "cert_cache_ttl": 60000, "cache_ttl": 60,
                "consumer_by": ["username", "custom_id"], "skip_consumer_lookup": false, "anonymous": .null,
                "default_consumer": .null, "authenticated_group_by": "CN", "http_timeout": 30000,
                "http_proxy_host": .null, "http_proxy_port": .null, "https_proxy_host": .null,
                "https_proxy_port": .null, "ssl_verify": true,
            ],
            "protocols": ["grpc", "grpcs", "http", "https"], "enabled": true, "tags": .null, "ordering": .null,
            "created_at": 1, "updated_at": 1,
        ]]
        return ConfigContent(entities: c)
    }

    @Test func chainsReadingConsumersFollowConsumerDeltas() throws {
        let pki = try CertAuthPKI.load()
        let v1 = Self.certAuthContent(["a"], paths: ["/one"], pki: pki)
        let f1 = try SnapshotApplyTests.frame(v1)
        let first = try SnapshotDecoder.decode(version: 1, hash: f1.hash, size: f1.size, compressed: f1.compressed,
                                               maxSize: 1 << 20, source: .controlPlane)
        #expect(first.plugins.problems.isEmpty, "\(first.plugins.problems.map(\.reason))")

        // header-cert-auth indexes consumers: a consumer added recompiles the chains.
        let v2 = Self.certAuthContent(["a", "b"], paths: ["/one"], pki: pki)
        let second = try Self.apply(v1, v2, on: first)
        #expect(second.plugins !== first.plugins)
        #expect(second.plugins.problems.isEmpty)

        // A route added: nothing the plugin reads changed, the chains carry over.
        let v3 = Self.certAuthContent(["a", "b"], paths: ["/one", "/two"], pki: pki)
        let third = try Self.apply(v2, v3, on: second)
        #expect(third.plugins === second.plugins)
    }
}
