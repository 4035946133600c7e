import Foundation
import GatewayModel
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Requests built to smuggle a second request past a proxy or to confuse its framing, sent on raw sockets: each is
/// refused with 400 and its connection closed, and nothing of it reaches the upstream. Also a half-closed client.
@Suite("Proxy against malformed and smuggling requests", .serialized)
struct ProxyMalformedTests {
    /// Sends `raw` on a new connection; returns what came back before the close.
    static func exchange(_ port: Int, _ raw: String) async throws -> (text: String, closed: Bool) {
        let client = try RawClient(port: port)
        try await client.write(raw)
        let answer = try await client.readUntilClose(timeout: .seconds(10))
        return (answer.text, answer.closed)
    }

    @Test("CL+TE, conflicting lengths, bad lengths, non-final chunked, space before colon, control bytes: 400, closed, nothing upstream")
    func smugglingAttemptsAreRefused() async throws {
        let f = try await ProxyFixture.start()
        try await f.addService("echo", ["url": .string(f.upstreamURL)], route: ["paths": ["/s"]])
        try await f.sync()
        let smuggled = "GET /s?smuggled=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        let cases: [(String, String)] = [
            ("CL and TE together",
             "POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled),
            ("TE and CL together",
             "POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n" + smuggled),
            ("two different Content-Lengths",
             "POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc" + smuggled),
            ("a list in Content-Length", "POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 40\r\n\r\nabc" + smuggled),
            ("a signed Content-Length", "POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc" + smuggled),
            ("chunked not last", "POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
                + smuggled),
            ("an unknown coding", "POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n" + smuggled),
            ("a space before the colon", "GET /s HTTP/1.1\r\nHost: x\r\nContent-Length : 40\r\n\r\n" + smuggled),
            ("a NUL in a value", "GET /s HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n" + smuggled),
            ("a bare CR in a value", "GET /s HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n" + smuggled),
            ("garbage request line", "GET /s HTTP/1.1 extra\r\nHost: x\r\n\r\n" + smuggled),
            ("an invalid method", "G(T /s HTTP/1.1\r\nHost: x\r\n\r\n" + smuggled),
        ]
        let before = try await f.upstream.stats()["requests"]?.intValue ?? -1
        for (name, raw) in cases {
            let (text, closed) = try await Self.exchange(f.dp.proxyPort, raw)
            #expect(text.hasPrefix("HTTP/1.1 400 "), "\(name): \(text)")
            #expect(text.contains(#"{"message":"Bad request"}"#), "\(name): \(text)")
            #expect(!text.contains("smuggled"), "\(name): \(text)")
            #expect(text.components(separatedBy: "HTTP/1.1 ").count == 2, "one answer only — \(name): \(text)")
            #expect(closed, "\(name): the connection must close")
        }
        let after = try await f.upstream.stats()["requests"]?.intValue ?? -2
        #expect(after == before, "the upstream saw \(after - before) request(s)")
        // The proxy still serves.
        #expect(try await ProxyCall.curl(f.dp.proxyURL + "/s").status == 200)
        try await f.stop()
    }

    @Test("obs-fold is refused; a bad chunk size after the head is a 400 and a close; a half-closed client is dropped cleanly")
    func framingErrorsAndHalfClose() async throws {
        let f = try await ProxyFixture.start()
        try await f.addService("echo", ["url": .string(f.upstreamURL)], route: ["paths": ["/s"]])
        try await f.sync()
        let folded = try await Self.exchange(
            f.dp.proxyPort, "GET /s HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\nConnection: close\r\n\r\n")
        #expect(folded.text.hasPrefix("HTTP/1.1 400 "), "\(folded.text)")

        let badChunk = try await Self.exchange(
            f.dp.proxyPort, "POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
        #expect(badChunk.text.hasPrefix("HTTP/1.1 400 "), "\(badChunk.text)")
        #expect(badChunk.closed)

        // A client that sends its request and shuts its sending side: its request is abandoned (nginx with
        // proxy_ignore_client_abort off does the same) or answered; either way the connection ends promptly.
        let client = try RawClient(port: f.dp.proxyPort)
        try await client.write("GET /s?mode=slow&ms=300 HTTP/1.1\r\nHost: x\r\n\r\n")
        client.shutdownWrite()
        let ended = try await client.readUntilClose(timeout: .seconds(10))
        #expect(ended.closed && ended.seconds < 5, "\(ended)")
        #expect(ended.text.isEmpty || ended.text.hasPrefix("HTTP/1.1 200 "), "\(ended.text)")
        #expect(try await ProxyCall.curl(f.dp.proxyURL + "/s").status == 200)
        try await f.stop()
    }
}
