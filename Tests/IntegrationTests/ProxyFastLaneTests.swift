import Foundation
import GatewayModel
import Testing

/// The fast lane (``FastLaneHandler`` in the data plane) against an upstream answering with exact bytes: every way a
/// response body can be framed, heads it must repair or refuse, connection reuse, and a connection that moves to
/// the full HTTP/1.1 path halfway.
@Suite("Proxy fast lane", .serialized)
struct ProxyFastLaneTests {
    static func fixture() async throws -> (ProxyFixture, EchoUpstream) {
        let f = try await ProxyFixture.start()
        let scripted = try await EchoUpstream.start(in: f.dir, script: "scripts/scripted-upstream.py")
        try await f.addService("scripted", ["url": .string("http://127.0.0.1:\(scripted.port)")],
                               route: ["paths": ["/f"]])
        try await f.addService("echo", ["url": .string(f.upstreamURL)], route: ["paths": ["/e"]])
        try await f.addService("versioned", ["url": .string(f.upstreamURL + "/v2")],
                               route: ["paths": ["/h"], "headers": ["x-version": ["v2"]]])
        try await f.sync()
        return (f, scripted)
    }

    @Test("chunked (extensions, trailers), close-delimited (re-chunked) and LF-only responses on one client connection")
    func responseFramings() async throws {
        let (f, scripted) = try await Self.fixture()
        let client = try RawClient(port: f.dp.proxyPort)
        try await client.write("GET /f/chunked HTTP/1.1\r\nHost: x\r\n\r\n")
        let chunked = try await client.read(until: "X-Trailer: t\r\n\r\n", timeout: .seconds(10))
        #expect(chunked.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(chunked)")
        #expect(chunked.lowercased().contains("transfer-encoding: chunked\r\n"), "\(chunked)")
        #expect(chunked.contains("X-Up: chunked\r\n") && chunked.contains("via: 1.1 portcullis\r\n"), "\(chunked)")
        #expect(chunked.hasSuffix("\r\n\r\n5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"), "\(chunked)")

        // No length, no chunks: the body ends with the upstream's close; the client gets it in chunks and keeps
        // its connection.
        try await client.write("GET /f/close HTTP/1.1\r\nHost: x\r\n\r\n")
        let closed = try await client.read(until: "\r\n0\r\n\r\n", timeout: .seconds(10))
        #expect(closed.contains("X-Up: close\r\n") && closed.lowercased().contains("transfer-encoding: chunked\r\n"),
                "\(closed)")
        #expect(closed.hasSuffix("\r\n\r\n21\r\nthe body ends with the connection\r\n0\r\n\r\n"), "\(closed)")

        try await client.write("GET /f/lf HTTP/1.1\r\nHost: x\r\n\r\n")
        let lf = try await client.read(until: "\r\n\r\nok", timeout: .seconds(10))
        #expect(lf.hasPrefix("HTTP/1.1 200 OK\r\n") && lf.contains("Content-Length: 2\r\n") && lf.contains("X-Up: lf\r\n"),
                "\(lf)")

        // curl decodes what the proxy relayed.
        let decoded = try await ProxyCall.curl(f.dp.proxyURL + "/f/chunked")
        #expect(decoded.status == 200 && decoded.text == "hello world", "\(decoded)")
        let untilClose = try await ProxyCall.curl(f.dp.proxyURL + "/f/close")
        #expect(untilClose.text == "the body ends with the connection", "\(untilClose)")
        let split = try await ProxyCall.curl(f.dp.proxyURL + "/f/split")
        #expect(split.status == 200 && split.text == "split" && split.header("x-up") == "split", "\(split)")
        try await f.stop()
        withExtendedLifetime(scripted) {}
    }

    @Test("1xx dropped, Connection-named fields dropped, an invalid status line is Kong's 502, a bad chunk closes")
    func responsesRepairedOrRefused() async throws {
        let (f, scripted) = try await Self.fixture()
        let early = try await ProxyCall.curl(f.dp.proxyURL + "/f/early")
        #expect(early.status == 200 && early.text == "after" && early.header("link") == nil, "\(early)")

        let named = try await ProxyCall.curl(f.dp.proxyURL + "/f/named")
        #expect(named.status == 200 && named.header("x-public") == "ok", "\(named)")
        #expect(named.header("x-private") == nil && named.header("connection") == nil, "\(named)")

        let invalid = try await ProxyCall.curl(f.dp.proxyURL + "/f/invalid")
        #expect(invalid.status == 502, "\(invalid)")
        #expect(invalid.json?["message"] == "An invalid response was received from the upstream server", "\(invalid)")

        // The head went out before the body turned out bad: the only honest end is closing the connection.
        let client = try RawClient(port: f.dp.proxyPort)
        try await client.write("GET /f/badchunk HTTP/1.1\r\nHost: x\r\n\r\n")
        let answer = try await client.readUntilClose(timeout: .seconds(10))
        #expect(answer.closed && answer.text.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(answer)")
        #expect(answer.text.components(separatedBy: "HTTP/1.1 ").count == 2, "\(answer)")
        #expect(try await ProxyCall.curl(f.dp.proxyURL + "/f/lf").status == 200)
        try await f.stop()
        withExtendedLifetime(scripted) {}
    }

    @Test("upstream connections are reused, except one that sent bytes past its response")
    func reuse() async throws {
        let (f, scripted) = try await Self.fixture()
        func connections() async throws -> Int { Int(try await scripted.stats()["connections"]?.intValue ?? -1) }
        #expect(try await ProxyCall.curl(f.dp.proxyURL + "/f/lf").status == 200)
        let a = try await connections()
        for _ in 0..<2 { #expect(try await ProxyCall.curl(f.dp.proxyURL + "/f/lf").status == 200) }
        let b = try await connections()
        #expect(b - a == 1, "two requests on the pooled connection: only the stats call connected (\(a) → \(b))")
        for _ in 0..<3 {
            let extra = try await ProxyCall.curl(f.dp.proxyURL + "/f/extra")
            #expect(extra.status == 200 && extra.text == "ok", "\(extra)")
        }
        let c = try await connections()
        #expect(c - b == 3, "the 2nd and 3rd need new connections, plus the stats call (\(b) → \(c))")
        try await f.stop()
        withExtendedLifetime(scripted) {}
    }

    @Test("one client connection: fast GET, chunked POST (full path), GET; pipelined requests stay in order")
    func handOffAndPipelining() async throws {
        let (f, scripted) = try await Self.fixture()
        let client = try RawClient(port: f.dp.proxyPort)
        try await client.write("GET /e?n=first HTTP/1.1\r\nHost: x\r\n\r\n")
        let first = try await client.read(until: "n=first", timeout: .seconds(10))
        #expect(first.hasPrefix("HTTP/1.1 200 "), "\(first)")
        try await client.write("POST /e?n=second HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        let second = try await client.read(until: "n=second", timeout: .seconds(10))
        #expect(second.hasPrefix("HTTP/1.1 200 ") && second.contains(#""chunked": true"#)
            && second.contains(#""body_length": 3"#), "\(second)")
        try await client.write("GET /e?n=third HTTP/1.1\r\nHost: x\r\n\r\n")
        let third = try await client.read(until: "n=third", timeout: .seconds(10))
        #expect(third.hasPrefix("HTTP/1.1 200 "), "\(third)")

        let pipelined = try RawClient(port: f.dp.proxyPort)
        try await pipelined.write("GET /e?p=one HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
            + "HEAD /missing HTTP/1.1\r\nHost: x\r\n\r\nGET /e?p=four HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let all = try await pipelined.readUntilClose(timeout: .seconds(10))
        #expect(all.closed, "\(all)")
        let order = ["p=one", "no Route matched", "HTTP/1.1 404 Not Found", "p=four"].map { all.text.range(of: $0)?.lowerBound }
        #expect(order.allSatisfy { $0 != nil }, "\(all.text)")
        #expect(all.text.components(separatedBy: "HTTP/1.1 ").count == 5, "four answers: \(all.text)")
        #expect(all.text.components(separatedBy: "no Route matched").count == 2, "HEAD answers without a body: \(all.text)")

        // Header routing from the raw head: list values split at commas, names compared case-insensitively.
        let versioned = try await ProxyCall.curl(f.dp.proxyURL + "/h", ["-H", "X-VERSION: v1, v2"])
        #expect(versioned.status == 200 && versioned.json?["path"] == "/v2", "\(versioned)")
        let unversioned = try await ProxyCall.curl(f.dp.proxyURL + "/h", ["-H", "X-Version: v1"])
        #expect(unversioned.status == 404, "\(unversioned)")
        try await f.stop()
        withExtendedLifetime(scripted) {}
    }
}
