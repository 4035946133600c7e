import Foundation
import GatewayModel
import Testing
import TestSupport

/// The data plane forwarding to a real upstream (scripts/echo-upstream.py) on loopback: paths, hosts and the
/// headers Kong adds, removes or passes through.
@Suite("Proxy forwarding", .serialized)
struct ProxyForwardingTests {
    @Test("GET and POST reach the service with the query string; strip_path and the service path are joined")
    func pathsAndMethods() async throws {
        let f = try await ProxyFixture.start()
        try await f.addService("strip", ["url": .string(f.upstreamURL + "/base")], route: ["paths": ["/api"]])
        try await f.addService("keep", ["url": .string(f.upstreamURL)],
                               route: ["paths": ["/keep"], "strip_path": false])
        try await f.sync()
        let proxy = f.dp.proxyURL

        let get = try await ProxyCall.curl(proxy + "/api/items?x=1&y=two%20words")
        #expect(get.status == 200, "\(get)")
        #expect(get.json?["method"] == "GET")
        #expect(get.json?["path"] == "/base/items?x=1&y=two%20words")
        #expect(get.header("via") == "1.1 portcullis")

        let root = try await ProxyCall.curl(proxy + "/api")
        #expect(root.json?["path"] == "/base")

        let kept = try await ProxyCall.curl(proxy + "/keep/a/b?c=d")
        #expect(kept.json?["path"] == "/keep/a/b?c=d")

        let post = try await ProxyCall.curl(proxy + "/api/upload", ["-X", "POST", "--data-binary", "hello",
                                                                     "-H", "Content-Type: text/plain"])
        #expect(post.status == 200, "\(post)")
        #expect(post.json?["method"] == "POST")
        #expect(post.json?["body_length"] == 5)
        #expect(post.echoedHeaders["content-length"] == ["5"])
        #expect(post.echoedHeaders["content-type"] == ["text/plain"])

        let none = try await ProxyCall.curl(proxy + "/nowhere")
        #expect(none.status == 404)
        #expect(none.json == ["message": "no Route matched with those values"])
        try await f.stop()
    }

    @Test("preserve_host sends the client's Host; otherwise the service's host:port")
    func preserveHost() async throws {
        let f = try await ProxyFixture.start()
        try await f.addService("plain", ["url": .string(f.upstreamURL)], route: ["paths": ["/plain"]])
        try await f.addService("kept", ["url": .string(f.upstreamURL)],
                               route: ["paths": ["/kept"], "preserve_host": true])
        try await f.sync()
        let plain = try await ProxyCall.curl(f.dp.proxyURL + "/plain", ["-H", "Host: Client.Example:8443"])
        #expect(plain.echoedHeaders["host"] == ["127.0.0.1:\(f.upstream.port)"], "\(plain)")
        let kept = try await ProxyCall.curl(f.dp.proxyURL + "/kept", ["-H", "Host: Client.Example:8443"])
        #expect(kept.echoedHeaders["host"] == ["Client.Example:8443"], "\(kept)")
        try await f.stop()
    }

    static let forged = [
        "-H", "X-Forwarded-For: 1.2.3.4", "-H", "X-Forwarded-Proto: https", "-H", "X-Forwarded-Host: evil.example",
        "-H", "X-Forwarded-Port: 9999", "-H", "X-Forwarded-Path: /forged", "-H", "X-Forwarded-Prefix: /pre",
        "-H", "X-Real-IP: 6.6.6.6", "-H", "Host: gw.example:8000",
    ]

    @Test("X-Forwarded-* and X-Real-IP: computed for an untrusted peer, passed through from a trusted one")
    func forwardedHeaders() async throws {
        let f = try await ProxyFixture.start()
        try await f.addService("echo", ["url": .string(f.upstreamURL)], route: ["paths": ["/fwd"]])
        try await f.sync()
        let untrusted = try await ProxyCall.curl(f.dp.proxyURL + "/fwd/x?q=1", Self.forged).echoedHeaders
        #expect(untrusted["x-real-ip"] == ["127.0.0.1"])
        // Kong appends to X-Forwarded-For whoever the peer is ($proxy_add_x_forwarded_for).
        #expect(untrusted["x-forwarded-for"] == ["1.2.3.4, 127.0.0.1"])
        #expect(untrusted["x-forwarded-proto"] == ["http"])
        #expect(untrusted["x-forwarded-host"] == ["gw.example"])
        #expect(untrusted["x-forwarded-port"] == ["\(f.dp.proxyPort)"])
        #expect(untrusted["x-forwarded-path"] == ["/fwd/x"])
        #expect(untrusted["x-forwarded-prefix"] == nil)
        #expect(untrusted["via"] == ["1.1 portcullis"])
        try await f.stop()

        let t = try await ProxyFixture.start(controlPlane: ["--trusted-ips", "127.0.0.1/32"])
        try await t.addService("echo", ["url": .string(t.upstreamURL)], route: ["paths": ["/fwd"]])
        try await t.sync()
        let trusted = try await ProxyCall.curl(t.dp.proxyURL + "/fwd/x", Self.forged).echoedHeaders
        #expect(trusted["x-real-ip"] == ["6.6.6.6"])
        #expect(trusted["x-forwarded-for"] == ["1.2.3.4, 6.6.6.6"])
        #expect(trusted["x-forwarded-proto"] == ["https"])
        #expect(trusted["x-forwarded-host"] == ["evil.example"])
        #expect(trusted["x-forwarded-port"] == ["9999"])
        #expect(trusted["x-forwarded-path"] == ["/forged"])
        #expect(trusted["x-forwarded-prefix"] == ["/pre"])
        try await t.stop()
    }

    @Test("forged identity headers and hop-by-hop headers are removed, in both directions")
    func strippedHeaders() async throws {
        let f = try await ProxyFixture.start()
        try await f.addService("echo", ["url": .string(f.upstreamURL)], route: ["paths": ["/h"]])
        try await f.sync()
        let identity = ["X-Consumer-ID", "X-Consumer-Username", "X-Consumer-Custom-ID", "X-Credential-Identifier",
                        "X-Anonymous-Consumer", "X-Client-Cert-DN", "X-Client-Cert-SAN"]
        var options = identity.flatMap { ["-H", "\($0): forged"] }
        options += ["-H", "Connection: keep-alive, X-Custom-Hop", "-H", "X-Custom-Hop: 1", "-H", "Keep-Alive: 300",
                    "-H", "TE: trailers", "-H", "Proxy-Authorization: Basic Zm9vOmJhcg==", "-H", "Upgrade: h2c",
                    "-H", "Trailer: X-T", "-H", "X-End-To-End: kept"]
        let call = try await ProxyCall.curl(f.dp.proxyURL + "/h?mode=hop", options)
        #expect(call.status == 200, "\(call)")
        let seen = call.echoedHeaders
        for name in identity { #expect(seen[name.lowercased()] == nil, "\(name) reached the upstream") }
        for name in ["x-custom-hop", "keep-alive", "te", "proxy-authorization", "upgrade", "trailer"] {
            #expect(seen[name] == nil, "\(name) reached the upstream")
        }
        #expect(seen["connection"]?.contains { $0.lowercased().contains("x-custom-hop") } != true)
        #expect(seen["x-end-to-end"] == ["kept"])
        // The upstream's hop-by-hop response headers stop at the proxy too.
        #expect(call.header("x-hop-response") == nil)
        #expect(call.header("keep-alive") == nil)
        #expect(call.header("proxy-authenticate") == nil)
        #expect(call.header("upgrade") == nil)
        #expect(call.header("x-end-to-end") == "kept")
        try await f.stop()
    }

    @Test("header-cert-auth in the data plane binary: examples/alb-mtls.yaml with a minted CA, ALB-style headers")
    func headerCertAuth() async throws {
        let pki = try CertAuthPKI.load()
        let f = try await ProxyFixture.start()
        // alb-mtls.yaml: /mtls carries header-cert-auth (CA by id, loopback as the trusted source, consumer
        // `client.example.com`), /echo has no plugin. Its placeholder CA and upstream are swapped for ours.
        var yaml = try String(contentsOf: try Paths.example("alb-mtls.yaml"), encoding: .utf8)
        let begin = try #require(yaml.range(of: "      -----BEGIN CERTIFICATE-----"))
        let end = try #require(yaml.range(of: "      -----END CERTIFICATE-----\n"))
        let block = pki.root.pem.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n") + "\n"
        yaml.replaceSubrange(begin.lowerBound..<end.upperBound, with: block)
        yaml = yaml.replacingOccurrences(of: "http://127.0.0.1:9000", with: f.upstreamURL)
        try await f.cp.admin().expect(201, "POST", "/config", body: yaml, contentType: "application/yaml")
        try await f.sync()

        let missing = try await ProxyCall.curl(f.dp.proxyURL + "/mtls")
        #expect(missing.status == 401, "\(missing)")
        #expect(missing.json == ["message": "No required TLS certificate header was sent"])
        // ALB forwards leaf + intermediate; only the root is configured.
        let chain = Encode.alb(pki.leaf.pem + pki.intermediate.pem)
        let forged = ["-H", "X-Consumer-Username: admin"]
        let ok = try await ProxyCall.curl(f.dp.proxyURL + "/mtls", ["-H", "X-Amzn-Mtls-Clientcert: \(chain)"] + forged)
        #expect(ok.status == 200, "\(ok)")
        #expect(ok.echoedHeaders["x-consumer-username"] == ["client.example.com"])
        let unknown = try await ProxyCall.curl(
            f.dp.proxyURL + "/mtls", ["-H", "X-Amzn-Mtls-Clientcert: \(Encode.alb(pki.otherLeaf.pem))"])
        #expect(unknown.status == 401, "\(unknown)")
        #expect(unknown.json == ["message": "TLS certificate failed verification"])
        #expect(try await ProxyCall.curl(f.dp.proxyURL + "/echo").status == 200)
        try await f.stop()
    }

    @Test("request-termination configured through the admin API answers in the data plane binary")
    func requestTermination() async throws {
        let f = try await ProxyFixture.start()
        try await f.addService("rt", ["url": .string(f.upstreamURL)], route: ["paths": ["/rt"]])
        try await f.addService("open", ["url": .string(f.upstreamURL)], route: ["paths": ["/open"]])
        let bad = #"{"name": "request-termination", "config": {"message": "m", "body": "b"}}"#
        try await f.cp.admin().expect(400, "POST", "/routes/rt-route/plugins", body: bad)
        let plugin = #"{"name": "request-termination", "config": {"status_code": 403, "message": "maintenance"}}"#
        try await f.cp.admin().expect(201, "POST", "/routes/rt-route/plugins", body: plugin)
        try await f.sync()
        let blocked = try await ProxyCall.curl(f.dp.proxyURL + "/rt/x", ["-X", "POST", "--data", "ignored"])
        #expect(blocked.status == 403, "\(blocked)")
        #expect(blocked.json == ["message": "maintenance"])
        #expect(try await ProxyCall.curl(f.dp.proxyURL + "/open").status == 200)
        try await f.stop()
    }
}
