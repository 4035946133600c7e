import DataPlane
import Foundation
import GatewayModel
import Testing
import TestSupport

/// header-cert-auth's revocation modes through the proxy, against the loopback OCSP responder of
/// ``RevocationPKI`` (real OpenSSL responses).
struct HeaderCertAuthRevocationTests {
    static let failed = #"{"message":"TLS certificate failed verification"}"#

    static func content(_ test: TestContent, pki: RevocationPKI) -> ConfigContent {
        var entities: [String: [JSONObject]] = [
            "services": test.services, "routes": test.routes, "plugins": test.plugins,
        ]
        entities["ca_certificates"] = [["id": .string(TestContent.id("ca", "rev-root")), "cert": .string(pki.root.pem)]]
        return ConfigContent(entities: entities)
    }

    /// One header name per route, so each compiled instance can be found by it.
    static func header(_ path: String) -> String { "X-Cert" + path.replacingOccurrences(of: "/", with: "-") }

    static func config(_ mode: String, path: String, timeout: Int64 = 5000) -> JSONObject {
        [
            "ca_certificates": [.string(TestContent.id("ca", "rev-root"))],
            "certificate_header_name": .string(Self.header(path)), "certificate_header_format": "url_encoded",
            "secure_source": true, "trusted_sources": ["127.0.0.1/32"], "allow_partial_chain": false,
            "revocation_check_mode": .string(mode), "cert_cache_ttl": 60000, "cache_ttl": 60,
            "skip_consumer_lookup": true, "authenticated_group_by": "CN", "http_timeout": .int(timeout),
        ]
    }

    static func alb(_ cert: RevocationPKI.Cert, _ pki: RevocationPKI, path: String) -> [(String, String)] {
        [(Self.header(path), Encode.alb(cert.pem + pki.intermediate.pem))]
    }

    @Test("revoked → 401 unless SKIP; unknown → 401 only with STRICT; a fresh answer is not fetched again")
    func modes() async throws {
        let pki = try await RevocationPKI.load()
        let echo = try await EchoUpstream.start()
        var test = TestContent()
        test.service("s1", port: echo.port)
        for mode in ["ignore", "strict", "skip", "strict-fast"] {
            test.route(mode, path: "/" + mode, service: "s1")
        }
        test.plugin("ignore", "header-cert-auth", route: "ignore",
                    config: Self.config("IGNORE_CA_ERROR", path: "/ignore"))
        test.plugin("strict", "header-cert-auth", route: "strict", config: Self.config("STRICT", path: "/strict"))
        test.plugin("skip", "header-cert-auth", route: "skip", config: Self.config("SKIP", path: "/skip"))
        test.plugin("strict-fast", "header-cert-auth", route: "strict-fast",
                    config: Self.config("STRICT", path: "/strict-fast", timeout: 300))
        let compiled = HeaderCertAuthPluginTests.Compiled()
        let proxy = try await ProxyHarness.start(Self.content(test, pki: pki),
                                                 registry: HeaderCertAuthPluginTests.registry(compiled))
        let get = { (path: String, cert: RevocationPKI.Cert) in
            try await HeaderCertAuthPluginTests.get(proxy.port, path, Self.alb(cert, pki, path: path))
        }

        let good = try pki.leaf("proxy-good")
        let revoked = try pki.leaf("proxy-revoked")
        let down = try pki.leaf("down")
        for path in ["/ignore", "/strict", "/skip"] {
            let response = try await get(path, good)
            #expect(response.status == 200, "\(path): \(response)")
            #expect(try PluginPipelineTests.echoed(response)["x-client-cert-dn"]
                == ["CN=proxy-good.revocation.test/O=Portcullis Tests"])
        }
        for path in ["/ignore", "/strict"] {
            let response = try await get(path, revoked)
            #expect(response.status == 401, "\(path): \(response)")
            #expect(response.text == Self.failed)
        }
        #expect(try await get("/skip", revoked).status == 200)
        #expect(try await get("/ignore", down).status == 200)
        let strictDown = try await get("/strict", down)
        #expect(strictDown.status == 401, "\(strictDown)")
        #expect(strictDown.text == Self.failed)
        // A responder that never answers: STRICT answers 401 once http_timeout (300 ms) has passed.
        let clock = ContinuousClock()
        let start = clock.now
        let strictSlow = try await get("/strict-fast", try pki.leaf("slow"))
        #expect(strictSlow.status == 401, "\(strictSlow)")
        #expect(clock.now - start < .seconds(15), "far below any default http_timeout, room for a loaded machine")

        // Both checking instances share one checker (same CAs and settings): the good leaf was asked about once,
        // and verdict-cache hits with a fresh revocation answer neither fetch nor wait.
        #expect(pki.server.count("/ocsp/proxy-good") == 1)
        let ignore = try #require(compiled.plugin(header: Self.header("/ignore")))
        #expect(ignore.revocationChecker != nil)
        #expect(try #require(compiled.plugin(header: Self.header("/skip"))).revocationChecker == nil)
        let waits = ignore.stats.revocationWaits
        for _ in 0..<3 { #expect(try await get("/ignore", good).status == 200) }
        #expect(ignore.stats.revocationWaits == waits)
        #expect(ignore.stats.cacheHits >= 3)
        #expect(pki.server.count("/ocsp/proxy-good") == 1)
        #expect(pki.server.count("/ocsp/proxy-revoked") == 1)
        await proxy.stop()
    }
}
