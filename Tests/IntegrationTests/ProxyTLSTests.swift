import Foundation
import GatewayModel
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// TLS on both sides of the proxy, with certificates minted by the openssl CLI: the TLS listener
/// (`--proxy-tls-listen`) and `https` services (Kong's `tls_verify`, `ca_certificates`).
@Suite("Proxy TLS: listener and https upstreams", .serialized)
struct ProxyTLSTests {
    /// The port of the data plane's "proxy TLS listening on HOST:PORT" line (bounded wait).
    static func tlsPort(_ dp: DataPlaneProcess) async throws -> Int {
        let marker = "proxy TLS listening on "
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            let log = dp.log
            if let range = log.range(of: marker) {
                let rest = log[range.upperBound...].prefix { !$0.isWhitespace }
                if let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]) { return port }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw AdminHTTP.Failure(description: "no TLS listener in the log:\n\(dp.log)")
    }

    @Test("the TLS listener proxies with X-Forwarded-Proto https, negotiates http/1.1 and applies the same limits")
    func listener() async throws {
        let dir = try TempDir()
        let pki = try TestServerPKI.mint(in: dir.url.path)
        let f = try await ProxyFixture.start(
            dataPlane: ["--proxy-tls-listen", "127.0.0.1:0", "--tls-cert", pki.certPath, "--tls-key", pki.keyPath],
            dir: dir)
        try await f.addService("echo", ["url": .string(f.upstreamURL)], route: ["paths": ["/s"]])
        try await f.sync()
        let port = try await Self.tlsPort(f.dp)

        let call = try await ProxyCall.curl("https://localhost:\(port)/s", ["--cacert", pki.caPath])
        #expect(call.status == 200, "\(call)")
        #expect(call.echoedHeaders["x-forwarded-proto"] == ["https"])
        #expect(call.echoedHeaders["x-forwarded-port"] == [String(port)])
        let plain = try await ProxyCall.curl(f.dp.proxyURL + "/s")
        #expect(plain.echoedHeaders["x-forwarded-proto"] == ["http"])

        // Without the CA the client refuses the certificate: it really is the one given.
        let untrusted = try await Subprocess.run(AdminHTTP.curl, ["-sS", "--noproxy", "*", "--max-time", "10",
                                                                  "https://localhost:\(port)/s"])
        #expect(untrusted.status != 0)

        let alpn = try await Subprocess.run(AdminHTTP.curl, ["-sS", "-v", "--noproxy", "*", "--max-time", "10",
                                                             "--cacert", pki.caPath, "-o", "/dev/null",
                                                             "https://localhost:\(port)/s"])
        let line = alpn.stderr.split(separator: "\n").first { $0.contains("ALPN") && $0.contains("accepted") }
        #expect(line?.contains("http/1.1") == true, "\(alpn.stderr)")

        let big = try await ProxyCall.curl("https://localhost:\(port)/s",
                                           ["--cacert", pki.caPath, "-H", "X-Big: \(String(repeating: "b", count: 70_000))"])
        #expect(big.status == 431, "\(big)")
        try await f.stop()
    }

    @Test("an unreadable or invalid certificate or key stops the data plane with a message naming the file")
    func badListenerFiles() async throws {
        let dir = try TempDir()
        let pki = try TestServerPKI.mint(in: dir.url.path)
        let cases: [(cert: String, key: String, named: String)] = [
            (dir.path("missing.pem"), pki.keyPath, dir.path("missing.pem")),
            (pki.keyPath, pki.keyPath, pki.keyPath),  // a key is no certificate
            (pki.certPath, pki.certPath, pki.certPath),  // a certificate is no key
            (pki.certPath, dir.path("other-ca.key"), dir.path("other-ca.key")),  // a key of another certificate
        ]
        for (i, c) in cases.enumerated() {
            do {
                let dp = try await DataPlaneProcess.start(in: dir, cache: "dp-\(i)", extra: [
                    "--proxy-tls-listen", "127.0.0.1:0", "--tls-cert", c.cert, "--tls-key", c.key,
                ])
                try await dp.stop()
                Issue.record("case \(i): the data plane started")
            } catch let failure as ManagedProcess.StartFailure {
                #expect(failure.description.contains(c.named), "case \(i): \(failure.description)")
                #expect(failure.description.contains("exited"), "case \(i): \(failure.description)")
            }
        }
    }

    /// A fixture whose echo upstream serves HTTPS with the PKI's server certificate; the CA is stored as a
    /// `ca_certificate` (its id returned) and so is the unrelated one.
    static func httpsFixture() async throws -> (ProxyFixture, TestServerPKI, ca: String, other: String) {
        let dir = try TempDir()
        let pki = try TestServerPKI.mint(in: dir.url.path)
        let f = try await ProxyFixture.start(upstreamTLS: (pki.certPath, pki.keyPath), dir: dir)
        let ca = try await f.cp.admin().expect(201, "POST", "/ca_certificates",
                                                body: JSONWriter.string(.object(["cert": .string(pki.caPEM)])))
        let other = try await f.cp.admin().expect(201, "POST", "/ca_certificates",
                                                   body: JSONWriter.string(.object(["cert": .string(pki.otherCAPEM)])))
        return (f, pki, try #require(ca["id"]?.stringValue), try #require(other["id"]?.stringValue))
    }

    @Test("https services: verification off by default, on with the right CA, 502 with a wrong CA or none in the system store")
    func httpsUpstream() async throws {
        let (f, _, ca, other) = try await Self.httpsFixture()
        let port = f.upstream.port
        let base: JSONObject = ["protocol": "https", "host": "localhost", "port": .int(Int64(port))]
        func service(_ name: String, _ extra: JSONObject) async throws {
            try await f.addService(name, base.merging(extra) { $1 }, route: ["paths": [.string("/\(name)")]])
        }
        try await service("noverify", [:])
        try await service("verifyfalse", ["tls_verify": false])
        try await service("verified", ["tls_verify": true, "ca_certificates": [.string(ca)]])
        try await service("wrongca", ["tls_verify": true, "ca_certificates": [.string(other)]])
        try await service("systemstore", ["tls_verify": true])
        try await f.addService("plain", ["protocol": "http", "host": "localhost", "port": .int(Int64(port))],
                               route: ["paths": ["/plain"]])
        try await f.sync()

        for name in ["noverify", "verifyfalse", "verified"] {
            let call = try await ProxyCall.curl(f.dp.proxyURL + "/\(name)")
            #expect(call.status == 200, "\(name): \(call)")
            #expect(call.json?["method"] == "GET", "\(name): \(call)")
        }
        for name in ["wrongca", "systemstore"] {
            let call = try await ProxyCall.curl(f.dp.proxyURL + "/\(name)")
            #expect(call.status == 502, "\(name): \(call)")
            #expect(call.json?["message"] == "An invalid response was received from the upstream server")
        }
        // Plain HTTP to the TLS port: the upstream's answer is no HTTP response.
        let plain = try await ProxyCall.curl(f.dp.proxyURL + "/plain")
        #expect(plain.status == 502, "\(plain)")
        // ... and the https services keep working: the failed plain connection was never pooled with theirs.
        let again = try await ProxyCall.curl(f.dp.proxyURL + "/verified")
        #expect(again.status == 200, "\(again)")
        try await f.stop()
    }

    @Test("connect_timeout bounds the TLS handshake too: an upstream that accepts and never answers is a 504 in time")
    func handshakeTimeout() async throws {
        let f = try await ProxyFixture.start()
        // Listening, never accepting: the kernel completes the TCP handshake, nobody answers the ClientHello.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 16) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        try await f.addService("mute", ["protocol": "https", "host": "127.0.0.1", "port": .int(Int64(port)),
                                        "connect_timeout": 300, "read_timeout": 20_000, "retries": 1],
                               route: ["paths": ["/mute"]])
        try await f.sync()
        // Two attempts of 300 ms (connect + handshake), then Kong's 504; not the 20 s read timeout.
        let call = try await ProxyCall.curl(f.dp.proxyURL + "/mute")
        #expect(call.status == 504, "\(call)")
        #expect(call.json == ["message": "The upstream server is timed out"])
        #expect(call.seconds >= 0.55 && call.seconds < 5, "answered after \(call.seconds) s")
        try await f.stop()
    }

    @Test("pool keys include the TLS settings: differently verified services to one address never share a connection")
    func poolSeparation() async throws {
        let (f, _, ca, _) = try await Self.httpsFixture()
        let port = f.upstream.port
        try await f.addService("a", ["protocol": "https", "host": "localhost", "port": .int(Int64(port))],
                               route: ["paths": ["/a"]])
        try await f.addService("b", ["protocol": "https", "host": "localhost", "port": .int(Int64(port)),
                                     "tls_verify": true, "ca_certificates": [.string(ca)]],
                               route: ["paths": ["/b"]])
        try await f.sync()
        var connections: [String: Set<Int64>] = [:]
        for i in 0..<6 {
            let name = i % 2 == 0 ? "a" : "b"
            let call = try await ProxyCall.curl(f.dp.proxyURL + "/\(name)")
            #expect(call.status == 200, "\(call)")
            if let n = call.json?["connection"]?.intValue { connections[name, default: []].insert(n) }
        }
        // Each service reuses its own keep-alive TLS connection; the two never meet.
        #expect(connections["a"]?.count == 1 && connections["b"]?.count == 1, "\(connections)")
        #expect(connections["a"]?.isDisjoint(with: connections["b"] ?? []) == true, "\(connections)")
        try await f.stop()
    }
}
