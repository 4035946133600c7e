import DataPlane
import GatewayModel
import Synchronization
import Testing
import TestSupport

/// header-cert-auth through real sockets: an in-process proxy in front of the python echo upstream, a PKI minted with
/// the openssl CLI (``CertAuthPKI``, shared with the CertAuth tests), one route per plugin configuration.
@Suite(.serialized) struct HeaderCertAuthPluginTests {
    static let header = "X-Amzn-Mtls-Clientcert"
    static let failed = #"{"message":"TLS certificate failed verification"}"#
    static let missing = #"{"message":"No required TLS certificate header was sent"}"#

    /// The plugin instances the registry compiled, to read their counters.
    final class Compiled: Sendable {
        private let plugins = Mutex<[HeaderCertAuthPlugin]>([])
        func add(_ plugin: HeaderCertAuthPlugin) { self.plugins.withLock { $0.append(plugin) } }
        func plugin(header: String) -> HeaderCertAuthPlugin? {
            self.plugins.withLock { $0.last { $0.headerName == header.lowercased() } }
        }
    }

    static func registry(_ compiled: Compiled) -> PluginRegistry {
        let builtIn = HeaderCertAuthPlugin.factory
        return PluginRegistry([
            PluginFactory(name: builtIn.name, priority: builtIn.priority, reads: builtIn.reads) { config, snapshot in
                let plugin = try HeaderCertAuthPlugin(config: config, snapshot: snapshot)
                compiled.add(plugin)
                return plugin
            },
        ])
    }

    static func id(_ kind: String, _ name: String) -> String { TestContent.id(kind, name) }

    /// The snapshot: services, routes and plugins from `test`, plus consumers, CA certificates and mappings.
    static func content(_ test: TestContent, pki: CertAuthPKI, trustedIPs: [String] = []) -> ConfigContent {
        func consumer(_ name: String, username: String?, customID: String? = nil) -> JSONObject {
            ["id": .string(self.id("consumer", name)), "username": username.map(JSON.string) ?? .null,
             "custom_id": customID.map(JSON.string) ?? .null]
        }
        func ca(_ name: String, _ cert: CertAuthPKI.Cert) -> JSONObject {
            ["id": .string(self.id("ca", name)), "cert": .string(cert.pem), "cert_digest": .string(cert.sha256)]
        }
        func mapping(_ name: String, subject: String, consumer: String, ca: String?) -> JSONObject {
            ["id": .string(self.id("credential", name)), "subject_name": .string(subject),
             "consumer": ["id": .string(self.id("consumer", consumer))],
             "ca_certificate": ca.map { ["id": .string(self.id("ca", $0))] } ?? .null]
        }
        let consumers = [
            consumer("alice", username: "alice"),
            consumer("bob", username: "bob", customID: "bob-cid"),
            consumer("carol", username: "carol"),
            consumer("mallory", username: "mallory"),
            consumer("dave", username: "noeku.example"),
            consumer("erin", username: "erin", customID: "otherleaf.example"),
            consumer("frank", username: "frank"),
            consumer("anon", username: "anonymous-user"),
        ]
        let credentials = [
            // The leaf's first SAN, tied to the root: wins over the unbound mapping of the same name.
            mapping("alice-bound", subject: "client.example.com", consumer: "alice", ca: "root"),
            mapping("bob-unbound", subject: "client.example.com", consumer: "bob", ca: nil),
            // Tied to the wrong CA: ignored, the unbound one applies.
            mapping("mallory-wrong-ca", subject: "cn-only.example", consumer: "mallory", ca: "other"),
            mapping("carol-unbound", subject: "cn-only.example", consumer: "carol", ca: nil),
        ]
        var entities: [String: [JSONObject]] = [
            "services": test.services, "routes": test.routes, "plugins": test.plugins, "consumers": consumers,
            "header_cert_auth_credentials": credentials,
        ]
        entities["ca_certificates"] = [ca("root", pki.root), ca("int", pki.intermediate), ca("other", pki.otherRoot)]
        return ConfigContent(entities: entities, trustedIPs: trustedIPs)
    }

    /// A header-cert-auth config: the ALB header, url_encoded, trusting `cas`, loopback trusted as the source.
    static func config(_ extra: JSONObject = [:], cas: [String] = ["root"], header: String = Self.header)
        -> JSONObject
    {
        var config: JSONObject = [
            "ca_certificates": .array(cas.map { .string(self.id("ca", $0)) }),
            "certificate_header_name": .string(header), "certificate_header_format": "url_encoded",
            "secure_source": true, "trusted_sources": ["127.0.0.1/32"], "allow_partial_chain": false,
            "revocation_check_mode": "IGNORE_CA_ERROR", "cert_cache_ttl": 60000, "cache_ttl": 60,
            "consumer_by": ["username", "custom_id"], "skip_consumer_lookup": false, "anonymous": .null,
            "default_consumer": .null, "authenticated_group_by": "CN",
        ]
        for (key, value) in extra { config[key] = value }
        return config
    }

    static func get(_ port: Int, _ path: String, _ headers: [(String, String)] = []) async throws
        -> RawHTTPClient.Response
    {
        try await PluginPipelineTests.get(port, path, headers: headers)
    }

    /// A certificate (chain) as ALB forwards it.
    static func alb(_ certs: CertAuthPKI.Cert...) -> [(String, String)] {
        [(Self.header, Encode.alb(certs.map(\.pem).joined()))]
    }

    @Test("RFC 9440 and Envoy XFCC headers: the chain verified, the consumer mapped, garbage refused")
    func rfc9440AndXFCC() async throws {
        let pki = try CertAuthPKI.load()
        let echo = try await EchoUpstream.start()
        var test = TestContent()
        test.service("s1", port: echo.port)
        test.route("rfc", path: "/rfc", service: "s1")
        test.route("xfcc", path: "/xfcc", service: "s1")
        test.plugin("rfc", "header-cert-auth", route: "rfc",
                    config: Self.config(["certificate_header_format": "rfc9440"], header: "Client-Cert"))
        test.plugin("xfcc", "header-cert-auth", route: "xfcc",
                    config: Self.config(["certificate_header_format": "xfcc"], header: "X-Forwarded-Client-Cert"))
        let proxy = try await ProxyHarness.start(Self.content(test, pki: pki), registry: .builtIn)

        let leaf = ":\(Encode.base64(pki.leaf.der)):"
        let chain = ":\(Encode.base64(pki.intermediate.der)):"
        let rfc = try await Self.get(proxy.port, "/rfc", [("Client-Cert", leaf), ("Client-Cert-Chain", chain)])
        #expect(rfc.status == 200, "\(rfc)")
        let rfcSeen = try PluginPipelineTests.echoed(rfc)
        #expect(rfcSeen["x-consumer-username"] == ["alice"])
        // The RFC 9440 fields were the certificate header: removed before proxying.
        #expect(rfcSeen["client-cert"] == nil && rfcSeen["client-cert-chain"] == nil, "\(rfcSeen)")
        // Without the chain header the leaf cannot be tied to the trusted root.
        #expect(try await Self.get(proxy.port, "/rfc", [("Client-Cert", leaf)]).status == 401)
        #expect(try await Self.get(proxy.port, "/rfc", [("Client-Cert", "not-sf-binary")]).status == 401)

        let xfccValue = "By=spiffe://mesh/gw;Cert=\"\(Encode.full(pki.leaf.pem))\";"
            + "Chain=\"\(Encode.full(pki.leaf.pem + pki.intermediate.pem))\""
        let xfcc = try await Self.get(proxy.port, "/xfcc", [("X-Forwarded-Client-Cert", xfccValue)])
        #expect(xfcc.status == 200, "\(xfcc)")
        #expect(try PluginPipelineTests.echoed(xfcc)["x-consumer-username"] == ["alice"])
        let garbage = try await Self.get(proxy.port, "/xfcc", [("X-Forwarded-Client-Cert", "Cert=\"garbage\"")])
        #expect(garbage.status == 401)
    }

    @Test("forward_client_cert: the verified leaf goes upstream as RFC 9440 Client-Cert, replacing any the client sent; nothing on a refusal or the anonymous fallback")
    func forwardClientCert() async throws {
        let pki = try CertAuthPKI.load()
        let echo = try await EchoUpstream.start()
        var test = TestContent()
        test.service("s1", port: echo.port)
        test.route("fwd", path: "/fwd", service: "s1")
        test.route("fwdanon", path: "/fwdanon", service: "s1")
        test.plugin("fwd", "header-cert-auth", route: "fwd", config: Self.config(["forward_client_cert": true]))
        test.plugin("fwdanon", "header-cert-auth", route: "fwdanon",
                    config: Self.config(["forward_client_cert": true, "anonymous": "anonymous-user"]))
        let proxy = try await ProxyHarness.start(Self.content(test, pki: pki), registry: .builtIn)

        let forged = [("Client-Cert", ":\(Encode.base64(pki.otherLeaf.der)):"), ("Client-Cert-Chain", ":AAAA:")]
        let ok = try await Self.get(proxy.port, "/fwd", Self.alb(pki.leaf, pki.intermediate) + forged)
        #expect(ok.status == 200, "\(ok)")
        let seen = try PluginPipelineTests.echoed(ok)
        #expect(seen["x-consumer-username"] == ["alice"])
        #expect(seen["client-cert"] == [":\(Encode.base64(pki.leaf.der)):"], "\(seen)")
        #expect(seen["client-cert-chain"] == nil)
        #expect(seen[Self.header.lowercased()] == nil)
        // A cached verdict forwards the same field.
        let again = try await Self.get(proxy.port, "/fwd", Self.alb(pki.leaf, pki.intermediate))
        #expect(try PluginPipelineTests.echoed(again)["client-cert"] == [":\(Encode.base64(pki.leaf.der)):"])

        // Untrusted chain with the anonymous fallback: proxied as anonymous, no certificate of any kind upstream.
        let anon = try await Self.get(proxy.port, "/fwdanon", Self.alb(pki.otherLeaf) + forged)
        #expect(anon.status == 200, "\(anon)")
        let anonSeen = try PluginPipelineTests.echoed(anon)
        #expect(anonSeen["x-anonymous-consumer"] == ["true"])
        #expect(anonSeen["client-cert"] == nil && anonSeen["client-cert-chain"] == nil, "\(anonSeen)")
        #expect(anonSeen[Self.header.lowercased()] == nil)
        // Refused: nothing reaches the upstream at all.
        let refused = try await Self.get(proxy.port, "/fwd", Self.alb(pki.otherLeaf) + forged)
        #expect(refused.status == 401 && refused.text == Self.failed)
    }

    @Test("valid chains map to consumers in Kong's order; the upstream sees verified identity headers only")
    func consumerMatching() async throws {
        let pki = try CertAuthPKI.load()
        let echo = try await EchoUpstream.start()
        var test = TestContent()
        test.service("s1", port: echo.port)
        for name in ["main", "partial", "nopartial", "other", "default", "skip"] {
            test.route(name, path: "/" + name, service: "s1")
        }
        test.plugin("main", "header-cert-auth", route: "main", config: Self.config())
        test.plugin("partial", "header-cert-auth", route: "partial",
                    config: Self.config(["allow_partial_chain": true], cas: ["int"]))
        test.plugin("nopartial", "header-cert-auth", route: "nopartial", config: Self.config(cas: ["int"]))
        test.plugin("other", "header-cert-auth", route: "other",
                    config: Self.config(["consumer_by": ["custom_id"]], cas: ["other"]))
        test.plugin("default", "header-cert-auth", route: "default",
                    config: Self.config(["consumer_by": [], "default_consumer": "frank"]))
        test.plugin("skip", "header-cert-auth", route: "skip", config: Self.config(["skip_consumer_lookup": true]))
        let proxy = try await ProxyHarness.start(Self.content(test, pki: pki), registry: .builtIn)

        // ALB-style: leaf + intermediate in the header, only the root trusted; a CA-bound mapping wins. A forged
        // identity from the client never reaches the upstream; alice has no custom_id, so none is sent.
        let forged = [("X-Consumer-Username", "admin"), ("X-Consumer-Custom-ID", "admin"),
                      ("X-Anonymous-Consumer", "true"), ("X-Credential-Identifier", "forged")]
        let main = try await Self.get(proxy.port, "/main", Self.alb(pki.leaf, pki.intermediate) + forged)
        #expect(main.status == 200, "\(main)")
        let seen = try PluginPipelineTests.echoed(main)
        #expect(seen["x-consumer-id"] == [Self.id("consumer", "alice")])
        #expect(seen["x-consumer-username"] == ["alice"])
        #expect(seen["x-consumer-custom-id"] == nil)
        #expect(seen["x-anonymous-consumer"] == nil)
        #expect(seen["x-credential-identifier"] == nil)
        #expect(seen["x-client-cert-dn"] == nil)
        // The certificate header itself never goes upstream (Kong would pass it through); nor is a Client-Cert
        // made without forward_client_cert.
        #expect(seen[Self.header.lowercased()] == nil)
        #expect(seen["client-cert"] == nil)

        // A mapping tied to the wrong CA is ignored; the unbound one applies.
        let carol = try await Self.get(proxy.port, "/main", Self.alb(pki.cnOnly, pki.intermediate))
        #expect(try PluginPipelineTests.echoed(carol)["x-consumer-username"] == ["carol"], "\(carol)")
        // No mapping: consumer_by username matches the CN.
        let dave = try await Self.get(proxy.port, "/main", Self.alb(pki.noEKU, pki.intermediate))
        #expect(try PluginPipelineTests.echoed(dave)["x-consumer-id"] == [Self.id("consumer", "dave")], "\(dave)")
        // consumer_by custom_id, under another CA.
        let erin = try await Self.get(proxy.port, "/other", Self.alb(pki.otherLeaf))
        let erinSeen = try PluginPipelineTests.echoed(erin)
        #expect(erinSeen["x-consumer-username"] == ["erin"], "\(erin)")
        #expect(erinSeen["x-consumer-custom-id"] == ["otherleaf.example"])

        // Partial chain: the intermediate is the anchor, so the root-bound mapping does not apply: the unbound one.
        let partial = try await Self.get(proxy.port, "/partial", Self.alb(pki.leaf))
        let partialSeen = try PluginPipelineTests.echoed(partial)
        #expect(partialSeen["x-consumer-username"] == ["bob"], "\(partial)")
        #expect(partialSeen["x-consumer-custom-id"] == ["bob-cid"])
        let noPartial = try await Self.get(proxy.port, "/nopartial", Self.alb(pki.leaf))
        #expect(noPartial.status == 401)
        #expect(noPartial.text == Self.failed)

        // default_consumer: consumer headers and certificate headers.
        let frank = try await Self.get(proxy.port, "/default", Self.alb(pki.noEKU, pki.intermediate))
        let frankSeen = try PluginPipelineTests.echoed(frank)
        #expect(frankSeen["x-consumer-username"] == ["frank"], "\(frank)")
        #expect(frankSeen["x-client-cert-dn"] == ["CN=noeku.example"])
        #expect(frankSeen["x-client-cert-san"] == ["noeku.example"])

        // skip_consumer_lookup: certificate headers, no consumer.
        let skip = try await Self.get(proxy.port, "/skip", Self.alb(pki.leaf, pki.intermediate))
        let skipSeen = try PluginPipelineTests.echoed(skip)
        #expect(skip.status == 200, "\(skip)")
        #expect(skipSeen["x-consumer-id"] == nil)
        #expect(skipSeen["x-client-cert-dn"] == ["C=US/CN=kongclient/L=SF/O=KONG/OU=ENG/ST=CA"])
        let san = skipSeen["x-client-cert-san"]?.first ?? ""
        #expect(san.hasPrefix("client.example.com,spiffe://example.org/ns/prod/sa/api,ops@example.com,"), "\(san)")
        #expect(san.hasSuffix(",kongclient"))
        await proxy.stop()
    }

    @Test("refusals follow Kong's outcome table: 401 bodies, nothing forwarded")
    func refusals() async throws {
        let pki = try CertAuthPKI.load()
        let echo = try await EchoUpstream.start()
        var test = TestContent()
        test.service("s1", port: echo.port)
        for name in ["main", "nomatch", "untrusted", "strict"] {
            test.route(name, path: "/" + name, service: "s1")
        }
        test.plugin("main", "header-cert-auth", route: "main", config: Self.config())
        test.plugin("nomatch", "header-cert-auth", route: "nomatch",
                    config: Self.config(["consumer_by": [], "default_consumer": "nobody"]))
        test.plugin("untrusted", "header-cert-auth", route: "untrusted",
                    config: Self.config(["trusted_sources": ["10.0.0.0/8"]]))
        test.plugin("strict", "header-cert-auth", route: "strict",
                    config: Self.config(["revocation_check_mode": "STRICT"]))
        let proxy = try await ProxyHarness.start(Self.content(test, pki: pki), registry: .builtIn)
        let before = try await echo.requests()

        let cases: [(String, String, [(String, String)], String)] = [
            ("missing header", "/main", [], Self.missing),
            ("expired", "/main", Self.alb(pki.expired, pki.intermediate), Self.failed),
            ("unknown CA", "/main", Self.alb(pki.otherLeaf), Self.failed),
            ("incomplete chain", "/main", Self.alb(pki.leaf), Self.failed),
            ("garbage", "/main", [(Self.header, "12345invalidcert67890")], Self.failed),
            ("repeated header", "/main", Self.alb(pki.leaf, pki.intermediate) + Self.alb(pki.leaf, pki.intermediate),
             Self.failed),
            ("no consumer, default_consumer missing", "/nomatch", Self.alb(pki.noEKU, pki.intermediate), Self.failed),
            ("untrusted source", "/untrusted", Self.alb(pki.leaf, pki.intermediate), Self.failed),
            ("STRICT, certificate without OCSP or CRL", "/strict", Self.alb(pki.leaf, pki.intermediate), Self.failed),
        ]
        for (label, path, headers, body) in cases {
            let response = try await Self.get(proxy.port, path, headers)
            #expect(response.status == 401, "\(label): \(response)")
            #expect(response.text == body, "\(label)")
        }
        #expect(try await echo.requests() == before)
        await proxy.stop()
    }

    @Test("anonymous fallback, a missing anonymous consumer (500), a missing CA (500), _trusted_ips as sources")
    func anonymousAndMisconfiguration() async throws {
        let pki = try CertAuthPKI.load()
        let echo = try await EchoUpstream.start()
        var test = TestContent()
        test.service("s1", port: echo.port)
        for name in ["anon", "ghost", "noca", "gateway-trusted"] {
            test.route(name, path: "/" + name, service: "s1")
        }
        test.plugin("anon", "header-cert-auth", route: "anon",
                    config: Self.config(["consumer_by": [], "anonymous": .string(Self.id("consumer", "anon"))]))
        test.plugin("ghost", "header-cert-auth", route: "ghost", config: Self.config(["anonymous": "ghost"]))
        test.plugin("noca", "header-cert-auth", route: "noca", config: Self.config(cas: ["missing-ca"]))
        test.plugin("gateway-trusted", "header-cert-auth", route: "gateway-trusted",
                    config: Self.config(["trusted_sources": []]))
        let content = Self.content(test, pki: pki, trustedIPs: ["127.0.0.0/8"])
        let proxy = try await ProxyHarness.start(content, registry: .builtIn)

        for headers in [[], Self.alb(pki.noEKU, pki.intermediate), Self.alb(pki.otherLeaf)] {
            let response = try await Self.get(proxy.port, "/anon", headers)
            let seen = try PluginPipelineTests.echoed(response)
            #expect(response.status == 200, "\(response)")
            #expect(seen["x-consumer-username"] == ["anonymous-user"])
            #expect(seen["x-anonymous-consumer"] == ["true"])
            // A certificate the gateway did not accept never reaches the upstream.
            #expect(seen[Self.header.lowercased()] == nil)
        }
        let ghost = try await Self.get(proxy.port, "/ghost")
        #expect(ghost.status == 500)
        #expect(ghost.text == #"{"message":"anonymous consumer ghost is configured but doesn't exist"}"#)
        // A valid certificate never needs the anonymous consumer.
        #expect(try await Self.get(proxy.port, "/ghost", Self.alb(pki.leaf, pki.intermediate)).status == 200)
        let noCA = try await Self.get(proxy.port, "/noca", Self.alb(pki.leaf, pki.intermediate))
        #expect(noCA.status == 500)
        #expect(noCA.text == #"{"message":"An unexpected error occurred"}"#)
        let trusted = try await Self.get(proxy.port, "/gateway-trusted", Self.alb(pki.leaf, pki.intermediate))
        #expect(trusted.status == 200, "\(trusted)")
        await proxy.stop()
    }

    @Test("a cached verdict is decided on the fast lane's raw fields: the upstream sees exactly what the plugin run sends, field for field, for every success outcome")
    func rawAccessMatchesPluginRun() async throws {
        let pki = try CertAuthPKI.load()
        let echo = try await EchoUpstream.start()
        var test = TestContent()
        test.service("s1", port: echo.port)
        let routes: [(String, JSONObject, [CertAuthPKI.Cert])] = [
            ("alice", [:], [pki.leaf, pki.intermediate]),  // CA-bound mapping; no custom_id
            ("bob", ["allow_partial_chain": true], [pki.leaf]),  // unbound mapping with a custom_id
            ("frank", ["consumer_by": [], "default_consumer": "frank"], [pki.noEKU, pki.intermediate]),
            ("skip", ["skip_consumer_lookup": true], [pki.leaf, pki.intermediate]),
            ("skipdn", ["skip_consumer_lookup": true, "authenticated_group_by": "DN"], [pki.leaf, pki.intermediate]),
        ]
        for (name, extra, _) in routes {
            test.route(name, path: "/" + name, service: "s1")
            test.plugin(name, "header-cert-auth", route: name,
                        config: Self.config(extra, cas: extra["allow_partial_chain"] != nil ? ["int"] : ["root"],
                                            header: "X-Cert-" + name))
        }
        let compiled = Compiled()
        let proxy = try await ProxyHarness.start(Self.content(test, pki: pki), registry: Self.registry(compiled))

        for (name, _, chain) in routes {
            let header = "X-Cert-" + name
            let plugin = try #require(compiled.plugin(header: header))
            // Client fields of every kind the fast lane sorts: forged identities, forwarding fields, ordinary ones.
            let fields = [(header, Encode.alb(chain.map(\.pem).joined())), ("X-Consumer-Username", "admin"),
                          ("X-Client-Cert-DN", "CN=forged"), ("Accept", "*/*"), ("X-Forwarded-For", "203.0.113.9"),
                          ("X-Trace-Me", "1")]
            // The first request verifies (the plugin run); the second is served from the cache.
            var seen: [[String]] = []
            for _ in 0..<2 {
                let response = try await Self.get(proxy.port, "/" + name, fields)
                #expect(response.status == 200, "\(name): \(response)")
                let json = try JSONParser.parse(response.text)
                seen.append((json["headers"]?.arrayValue ?? []).compactMap { pair -> String? in
                    guard let k = pair.arrayValue?.first?.stringValue, let v = pair.arrayValue?.last?.stringValue,
                          k.lowercased() != "x-request-id" else { return nil }
                    return k.lowercased() + ": " + v
                })
            }
            #expect(plugin.stats.verifications == 1 && plugin.stats.cacheHits == 1 && plugin.stats.rawDecisions == 1,
                    "\(name): \(plugin.stats)")
            #expect(seen[0] == seen[1], "\(name): plugin run \(seen[0]) vs raw \(seen[1])")
            #expect(!seen[1].contains { $0.hasPrefix(header.lowercased() + ":") }, "\(name)")
            #expect(!seen[1].contains("x-consumer-username: admin") && !seen[1].contains("x-client-cert-dn: CN=forged"))
        }
        await proxy.stop()
    }

    @Test("a repeated certificate is verified once: later requests are served from the verdict cache")
    func cacheHit() async throws {
        let pki = try CertAuthPKI.load()
        let echo = try await EchoUpstream.start()
        var test = TestContent()
        test.service("s1", port: echo.port)
        test.route("cached", path: "/cached", service: "s1")
        test.plugin("cached", "header-cert-auth", route: "cached", config: Self.config(header: "X-Cache-Cert"))
        let compiled = Compiled()
        let proxy = try await ProxyHarness.start(Self.content(test, pki: pki), registry: Self.registry(compiled))
        let plugin = try #require(compiled.plugin(header: "X-Cache-Cert"))

        let good = [("X-Cache-Cert", Encode.alb(pki.leaf.pem + pki.intermediate.pem))]
        let bad = [("X-Cache-Cert", Encode.alb(pki.otherLeaf.pem))]
        #expect(try await Self.get(proxy.port, "/cached", good).status == 200)
        #expect(plugin.stats.verifications == 1 && plugin.stats.cacheHits == 0, "\(plugin.stats)")
        for _ in 0..<3 { #expect(try await Self.get(proxy.port, "/cached", good).status == 200) }
        #expect(plugin.stats.verifications == 1 && plugin.stats.cacheHits == 3, "\(plugin.stats)")
        // Rejections are cached too.
        #expect(try await Self.get(proxy.port, "/cached", bad).status == 401)
        #expect(try await Self.get(proxy.port, "/cached", bad).status == 401)
        #expect(plugin.stats.verifications == 2 && plugin.stats.cacheHits == 4, "\(plugin.stats)")
        // The trusted hits were decided on the fast lane's raw fields; the cached rejection went through `access`.
        #expect(plugin.stats.rawDecisions == 3, "\(plugin.stats)")
        await proxy.stop()
    }

    @Test("instances compiled from one snapshot share derived values: built once per key, failures not kept")
    func snapshotMemo() throws {
        let snapshot = PluginSnapshot(content: ConfigContent(entities: [:]))
        var builds = 0
        let first = snapshot.shared("k") { builds += 1; return "value" }
        let second = snapshot.shared("k") { builds += 1; return "other" }
        #expect(first == "value" && second == "value" && builds == 1)
        struct Boom: Error {}
        #expect(throws: Boom.self) { try snapshot.shared("bad") { () throws -> Int in throw Boom() } }
        #expect(snapshot.shared("bad") { 7 } == 7)
        // An Optional value type is built too, not taken from the missing entry.
        let optional: Int? = snapshot.shared("optional") { 5 }
        #expect(optional == 5)
    }
}
