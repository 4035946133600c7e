import Foundation
import GatewayModel
import Testing

/// The proxy's edge against real clients: size limits (431/414/413 with Kong's bodies, then close) and client
/// timeouts (idle keep-alive, slow head, slow body).
@Suite("Proxy edge: request limits and client timeouts", .serialized)
struct ProxyEdgeTests {
    /// An ALB-style `X-Amzn-Mtls-Clientcert` value: a URL-encoded PEM chain of `pemBytes` bytes (random base64).
    static func certificateChainHeader(pemBytes: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var out = ""
        var written = 0
        while written < pemBytes {
            out += "-----BEGIN%20CERTIFICATE-----%0A"
            written += 28
            for _ in 0..<20 {
                out += String((0..<64).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] }) + "%0A"
                written += 65
            }
            out += "-----END%20CERTIFICATE-----%0A"
            written += 26
        }
        return out
    }

    @Test("431 for a head too large or with too many headers, 414 for a long URI (even past the head limit), 413 for a body over the limit; a 16 KiB certificate chain passes")
    func limits() async throws {
        let f = try await ProxyFixture.start(dataPlane: ["--max-body-size", "1000", "--max-headers", "50"])
        try await f.addService("echo", ["url": .string(f.upstreamURL)], route: ["paths": ["/l"]])
        try await f.sync()
        let url = f.dp.proxyURL + "/l"

        // The certificate chain an ALB forwards (16 KiB of PEM, URL-encoded) plus ordinary headers.
        let chain = Self.certificateChainHeader(pemBytes: 16 << 10)
        var ordinary: [String] = []
        for i in 0..<20 { ordinary += ["-H", "X-Ordinary-\(i): \(String(repeating: "v", count: 100))"] }
        let ok = try await ProxyCall.curl(url, ["-H", "X-Amzn-Mtls-Clientcert: \(chain)"] + ordinary)
        #expect(ok.status == 200, "\(ok)")
        #expect(ok.echoedHeaders["x-amzn-mtls-clientcert"]?.first?.count == chain.count)

        let big = try await ProxyCall.curl(url, ["-H", "X-Big: \(String(repeating: "b", count: 70_000))"])
        #expect(big.status == 431, "\(big)")
        #expect(big.json?["message"] == "Request header or cookie too large")
        #expect(big.header("connection")?.lowercased() == "close")

        var many: [String] = []
        for i in 0..<60 { many += ["-H", "X-Many-\(i): x"] }
        let tooMany = try await ProxyCall.curl(url, many)
        #expect(tooMany.status == 431, "\(tooMany)")

        let longURI = try await ProxyCall.curl(url + "?q=" + String(repeating: "u", count: 17_000))
        #expect(longURI.status == 414, "\(longURI)")
        #expect(longURI.json?["message"] == "URI too long")
        // Longer than the whole head limit: still the URI's fault, 414 (not 431).
        let hugeURI = try await ProxyCall.curl(url + "?q=" + String(repeating: "h", count: 70_000))
        #expect(hugeURI.status == 414, "\(hugeURI)")

        let dir = f.dir
        let small = try ProxyStreamingTests.payload(dir, "small", size: 1000)
        let large = try ProxyStreamingTests.payload(dir, "large", size: 5000)
        let atLimit = try await ProxyCall.curl(url, ["-X", "POST", "--data-binary", "@\(small)"])
        #expect(atLimit.status == 200 && atLimit.json?["body_length"] == 1000, "\(atLimit)")

        // A Content-Length over the limit never reaches the upstream.
        let before = try await f.upstream.stats()["requests"]?.intValue ?? -1
        let declared = try await ProxyCall.curl(url, ["-X", "POST", "--data-binary", "@\(large)"])
        #expect(declared.status == 413, "\(declared)")
        #expect(declared.json?["message"] == "Payload too large")
        let after = try await f.upstream.stats()["requests"]?.intValue ?? -2
        #expect(after == before, "the upstream saw \(after - before) request(s)")

        // A chunked body is cut where it crosses the limit; below it, it passes.
        let chunked = try await ProxyCall.curl(url, ["-X", "POST", "-H", "Transfer-Encoding: chunked",
                                                     "--data-binary", "@\(large)"])
        #expect(chunked.status == 413, "\(chunked)")
        let chunkedSmall = try await ProxyCall.curl(url, ["-X", "POST", "-H", "Transfer-Encoding: chunked",
                                                          "--data-binary", "@\(small)"])
        #expect(chunkedSmall.status == 200 && chunkedSmall.json?["body_length"] == 1000, "\(chunkedSmall)")

        // Malformed requests get 400 with Kong's body, then the connection closes.
        let raw = try RawClient(port: f.dp.proxyPort)
        try await raw.write("GET /l HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        let bad = try await raw.readUntilClose(timeout: .seconds(10))
        #expect(bad.text.hasPrefix("HTTP/1.1 400"), "\(bad.text)")
        #expect(bad.text.contains(#"{"message":"Bad request"}"#))
        #expect(bad.closed)
        try await f.stop()
    }

    @Test("a chunked body crossing the limit after the response started closes the connection, with no second status")
    func cutAfterResponseStarted() async throws {
        let f = try await ProxyFixture.start(dataPlane: ["--max-body-size", "1000"])
        try await f.addService("echo", ["url": .string(f.upstreamURL)], route: ["paths": ["/e"]])
        try await f.sync()
        let raw = try RawClient(port: f.dp.proxyPort)
        try await raw.write("POST /e?mode=early HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "1f4\r\n" + String(repeating: "a", count: 500) + "\r\n")
        // The upstream answers before it reads the body: the status is out before the limit is crossed.
        let head = try await raw.read(until: "\r\n\r\n", timeout: .seconds(10))
        #expect(head.hasPrefix("HTTP/1.1 200"), "\(head)")
        try await raw.write("3e8\r\n" + String(repeating: "b", count: 1000) + "\r\n")
        let rest = try await raw.readUntilClose(timeout: .seconds(10))
        #expect(rest.closed, "the connection stayed open: \(rest)")
        #expect(!rest.text.contains("HTTP/1.1 413"), "\(rest.text)")
        // The data plane is fine and serves the next request.
        let next = try await ProxyCall.curl(f.dp.proxyURL + "/e")
        #expect(next.status == 200, "\(next)")
        try await f.stop()
    }

    @Test("client timeouts: an idle connection is closed, a slow head or body gets 408; slow upstreams are not the client's fault")
    func timeouts() async throws {
        let f = try await ProxyFixture.start(dataPlane: ["--client-idle-timeout", "1", "--client-header-timeout", "1",
                                                         "--client-body-timeout", "1"])
        try await f.addService("echo", ["url": .string(f.upstreamURL)], route: ["paths": ["/t"]])
        try await f.sync()
        let port = f.dp.proxyPort

        // A connection that never sends a byte is closed without an answer.
        let silent = try RawClient(port: port)
        let nothing = try await silent.readUntilClose(timeout: .seconds(10))
        #expect(nothing.closed && nothing.text.isEmpty, "\(nothing)")
        #expect(nothing.seconds > 0.5 && nothing.seconds < 5, "closed after \(nothing.seconds) s")

        // A keep-alive connection is answered, then closed once idle for the idle timeout.
        let idle = try RawClient(port: port)
        try await idle.write("GET /t HTTP/1.1\r\nHost: x\r\n\r\n")
        let answered = try await idle.readUntilClose(timeout: .seconds(10))
        #expect(answered.text.hasPrefix("HTTP/1.1 200"), "\(answered.text.prefix(200))")
        #expect(answered.closed && answered.seconds > 0.5 && answered.seconds < 5, "closed after \(answered.seconds) s")

        // Half a head, then nothing: 408 with Kong's body, then the close.
        let slowHead = try RawClient(port: port)
        try await slowHead.write("GET /t HTTP/1.1\r\nHost: x\r\n")
        let head = try await slowHead.readUntilClose(timeout: .seconds(10))
        #expect(head.text.hasPrefix("HTTP/1.1 408"), "\(head.text)")
        #expect(head.text.contains(#"{"message":"Request timeout"}"#))
        #expect(head.closed && head.seconds < 5)

        // A body that stops arriving: 408 (the upstream has not answered: it waits for the body too).
        let slowBody = try RawClient(port: port)
        try await slowBody.write("POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        let body = try await slowBody.readUntilClose(timeout: .seconds(10))
        #expect(body.text.hasPrefix("HTTP/1.1 408"), "\(body.text)")
        #expect(body.closed && body.seconds < 5)

        // An upstream slower than every client timeout: the client is waiting, not late.
        let slow = try await ProxyCall.curl(f.dp.proxyURL + "/t?mode=slow&ms=2500")
        #expect(slow.status == 200, "\(slow)")
        // A body the proxy stops reading because its upstream takes nothing for 2.5 s is not a slow client either.
        let file = try ProxyStreamingTests.payload(f.dir, "stalled", size: 32 << 20)
        let stalled = try await ProxyCall.curl(f.dp.proxyURL + "/t?mode=stall&ms=2500",
                                               ["-X", "POST", "--data-binary", "@\(file)"], timeout: 60)
        #expect(stalled.status == 200 && stalled.json?["body_length"] == .int(32 << 20), "\(stalled)")
        try await f.stop()
    }
}
