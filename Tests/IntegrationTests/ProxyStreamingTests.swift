import Foundation
import GatewayModel
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Bodies, connections and failures between the data plane and a real upstream on loopback.
@Suite("Proxy streaming and upstream failures", .serialized)
struct ProxyStreamingTests {
    /// A file of `size` bytes of a fixed pattern; returns its path.
    static func payload(_ dir: TempDir, _ name: String, size: Int) throws -> String {
        var block = [UInt8](repeating: 0, count: 1 << 20)
        for i in block.indices { block[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 8) }
        let path = dir.path(name)
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        var left = size
        while left > 0 {
            let n = min(left, block.count)
            try handle.write(contentsOf: block[0..<n])
            left -= n
        }
        try handle.close()
        return path
    }

    /// The upstream reports the SHA-256 of what it received; this is the one of what was sent.
    static func sha256(_ path: String) async throws -> String {
        let r = try await Subprocess.run(URL(fileURLWithPath: "/usr/bin/sha256sum"), [path])
        return String(r.stdout.prefix { !$0.isWhitespace })
    }

    @Test("chunked request and response bodies pass through (re-chunked), Expect: 100-continue answered")
    func chunked() async throws {
        let f = try await ProxyFixture.start()
        try await f.addService("echo", ["url": .string(f.upstreamURL)], route: ["paths": ["/c"]])
        try await f.sync()
        let file = try Self.payload(f.dir, "one-mb", size: 1 << 20)
        let sha = try await Self.sha256(file)

        let up = try await ProxyCall.curl(f.dp.proxyURL + "/c", ["-X", "POST", "-H", "Transfer-Encoding: chunked",
                                                                 "--data-binary", "@\(file)"])
        #expect(up.status == 200, "\(up)")
        #expect(up.json?["chunked"] == true)
        #expect(up.json?["body_length"] == .int(1 << 20))
        #expect(up.json?["body_sha256"] == .string(sha))
        #expect(up.echoedHeaders["content-length"] == nil)

        let down = try await ProxyCall.curl(f.dp.proxyURL + "/c?mode=big&bytes=3000000&chunked=1", keepBody: false)
        #expect(down.status == 200)
        #expect(down.size == 3_000_000)
        #expect(down.header("transfer-encoding") == "chunked")

        // An HTTP/1.0 keep-alive client gets the chunked response unchunked, ended by the connection's close.
        let old = try await ProxyCall.curl(f.dp.proxyURL + "/c?mode=big&bytes=100000&chunked=1",
                                           ["--http1.0", "-H", "Connection: keep-alive"], keepBody: false, timeout: 10)
        #expect(old.status == 200 && old.size == 100_000, "\(old)")
        #expect(old.header("transfer-encoding") == nil)

        // curl waits up to 10 s for "100 Continue" before sending the body: a quick answer proves the proxy sent it.
        let expect = try await ProxyCall.curl(f.dp.proxyURL + "/c", ["-X", "PUT", "-H", "Expect: 100-continue",
                                                                     "--expect100-timeout", "10",
                                                                     "--data-binary", "@\(file)"])
        #expect(expect.status == 200, "\(expect)")
        #expect(expect.json?["body_length"] == .int(1 << 20))
        #expect(expect.echoedHeaders["expect"] == nil)
        #expect(expect.seconds < 8, "no 100 Continue: curl waited \(expect.seconds) s")
        try await f.stop()
    }

    @Test("48 MB up and 48 MB down stream through in bounded memory")
    func largeBodies() async throws {
        let f = try await ProxyFixture.start()
        try await f.addService("echo", ["url": .string(f.upstreamURL)], route: ["paths": ["/big"]])
        try await f.sync()
        let size = 48 << 20
        let file = try Self.payload(f.dir, "big", size: size)
        let sha = try await Self.sha256(file)
        // Warm up (pools, allocator arenas) before the baseline.
        _ = try await ProxyCall.curl(f.dp.proxyURL + "/big?mode=big&bytes=1000000", keepBody: false)
        let before = try f.dataPlaneMemory()

        let up = try await ProxyCall.curl(f.dp.proxyURL + "/big", ["-X", "POST", "-T", file], timeout: 60)
        #expect(up.status == 200, "\(up)")
        #expect(up.json?["body_length"] == .int(Int64(size)))
        #expect(up.json?["body_sha256"] == .string(sha))
        let afterUpload = try f.dataPlaneMemory()

        let down = try await ProxyCall.curl(f.dp.proxyURL + "/big?mode=big&bytes=\(size)", keepBody: false, timeout: 60)
        #expect(down.status == 200)
        #expect(down.size == size)
        let afterDownload = try f.dataPlaneMemory()
        // Buffering either body whole would raise the peak by ≥ 48 MiB; streaming holds a few reads' worth.
        #expect(afterUpload.peak - before.peak < 16 << 10, "peak RSS \(before) KiB → \(afterUpload) KiB (upload)")
        #expect(afterDownload.peak - before.peak < 16 << 10, "peak RSS \(before) KiB → \(afterDownload) KiB (download)")
        print("proxy memory KiB (rss, peak): before \(before), after 48 MiB up \(afterUpload), "
            + "after 48 MiB down \(afterDownload); up \(up.seconds) s, down \(down.seconds) s")
        try await f.stop()
    }

    @Test("upstream connections are kept alive and reused; a stale reused connection is retried for idempotent requests")
    func keepAlive() async throws {
        let f = try await ProxyFixture.start()
        try await f.addService("echo", ["url": .string(f.upstreamURL)], route: ["paths": ["/k"]])
        try await f.sync()
        var connections: Set<Int64> = []
        for i in 0..<10 {
            let call = try await ProxyCall.curl(f.dp.proxyURL + "/k?i=\(i)")
            #expect(call.status == 200)
            if let n = call.json?["connection"]?.intValue { connections.insert(n) }
        }
        // Ten requests on ten client connections, one after another: one upstream connection serves them all.
        #expect(connections.count == 1, "upstream connections used: \(connections.sorted())")
        // Several requests on one client connection (curl reuses it for each URL).
        let urls = (0..<5).map { f.dp.proxyURL + "/k?j=\($0)" }
        let many = try await Subprocess.run(AdminHTTP.curl, ["-sS", "--noproxy", "*", "--max-time", "20",
                                                             "-w", "%{http_code} %{num_connects}\n"]
                                                 + urls.flatMap { ["-o", "/dev/null", $0] })
        let lines = many.stdout.split(separator: "\n")
        #expect(lines.count == 5 && lines.allSatisfy { $0.hasPrefix("200 ") }, "\(many)")
        #expect(lines.dropFirst().allSatisfy { $0.hasSuffix(" 0") }, "curl opened new connections: \(many)")
        let stats = try await f.upstream.stats()
        // 15 requests and the stats call itself.
        #expect((stats["connections"]?.intValue ?? 99) <= 2, "\(stats)")
        // A reused connection the upstream closes without answering: a GET is resent on a new connection, a
        // POST is not (nginx never resends a non-idempotent request once sent): Kong's 502.
        let marked = try await ProxyCall.curl(f.dp.proxyURL + "/k?mode=dropnext")
        let resent = try await ProxyCall.curl(f.dp.proxyURL + "/k?after=drop")
        #expect(resent.status == 200, "\(resent)")
        #expect(resent.json?["connection"] != marked.json?["connection"])
        _ = try await ProxyCall.curl(f.dp.proxyURL + "/k?mode=dropnext")
        let post = try await ProxyCall.curl(f.dp.proxyURL + "/k", ["--data-binary", "abc"])
        #expect(post.status == 502, "\(post)")
        // An upstream that closes after its response is not reused, and nothing breaks.
        let closing = try await ProxyCall.curl(f.dp.proxyURL + "/k?mode=close")
        let next = try await ProxyCall.curl(f.dp.proxyURL + "/k")
        #expect(closing.status == 200 && next.status == 200)
        #expect(closing.json?["connection"] != next.json?["connection"])
        try await f.stop()
    }

    @Test("Kong's 502 for a closed port (after retries), 504 past connect_timeout, read_timeout and write_timeout, upstream 500 passed through")
    func failures() async throws {
        let f = try await ProxyFixture.start()
        let port = try closedPort()
        try await f.addService("closed", ["url": .string("http://127.0.0.1:\(port)"), "retries": 2],
                               route: ["paths": ["/closed"]])
        try await f.addService("slow", ["url": .string(f.upstreamURL), "read_timeout": 300],
                               route: ["paths": ["/slow"]])
        try await f.addService("echo", ["url": .string(f.upstreamURL)], route: ["paths": ["/echo"]])
        try await f.addService("stall", ["url": .string(f.upstreamURL), "write_timeout": 300],
                               route: ["paths": ["/stall"]])
        let blackhole = try blackholePort()
        defer { for fd in blackhole.descriptors { close(fd) } }
        try await f.addService("blackhole", ["url": .string("http://127.0.0.1:\(blackhole.port)"),
                                             "connect_timeout": 300, "retries": 1],
                               route: ["paths": ["/blackhole"]])
        try await f.sync()

        let closed = try await ProxyCall.curl(f.dp.proxyURL + "/closed")
        #expect(closed.status == 502)
        #expect(closed.json == ["message": "An invalid response was received from the upstream server"])
        let closedPost = try await ProxyCall.curl(f.dp.proxyURL + "/closed", ["--data-binary", "abc"])
        #expect(closedPost.status == 502)

        // Two connect attempts of 300 ms each, then Kong's 504.
        let unreachable = try await ProxyCall.curl(f.dp.proxyURL + "/blackhole")
        #expect(unreachable.status == 504, "\(unreachable)")
        #expect(unreachable.json == ["message": "The upstream server is timed out"])
        #expect(unreachable.seconds >= 0.55 && unreachable.seconds < 3, "answered after \(unreachable.seconds) s")

        let slow = try await ProxyCall.curl(f.dp.proxyURL + "/slow?mode=slow&ms=3000")
        #expect(slow.status == 504)
        #expect(slow.json == ["message": "The upstream server is timed out"])
        #expect(slow.seconds < 2.5, "answered after \(slow.seconds) s")
        // Within read_timeout it is fine.
        let quick = try await ProxyCall.curl(f.dp.proxyURL + "/slow?mode=slow&ms=50")
        #expect(quick.status == 200)

        // An upstream that takes no body for write_timeout: 504 while the client is still sending (its body is
        // drained). 32 MiB is more than loopback socket buffers hold.
        let stall = try Self.payload(f.dir, "stall", size: 32 << 20)
        let stalled = try await ProxyCall.curl(f.dp.proxyURL + "/stall?mode=stall&ms=3000", ["-X", "POST", "-T", stall])
        #expect(stalled.status == 504, "\(stalled)")
        #expect(stalled.json == ["message": "The upstream server is timed out"])

        let error = try await ProxyCall.curl(f.dp.proxyURL + "/echo?mode=status&code=500")
        #expect(error.status == 500)
        #expect(error.json == ["upstream": "error", "code": 500])
        #expect(error.header("x-upstream-error") == "yes")
        let teapot = try await ProxyCall.curl(f.dp.proxyURL + "/echo?mode=status&code=418")
        #expect(teapot.status == 418)
        try await f.stop()
    }

    @Test("pipelined requests are answered in order; a request in flight keeps the configuration it started with")
    func pipeliningAndConfigSwap() async throws {
        let f = try await ProxyFixture.start()
        try await f.addService("echo", ["url": .string(f.upstreamURL)], route: ["paths": ["/p"]])
        try await f.sync()
        // Three requests in one write; the last one closes the connection so the reader knows where to stop.
        let script = """
            import socket, sys
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=15)
            req = lambda i, extra="": ("GET /p?i=%d HTTP/1.1\\r\\nHost: x\\r\\n%s\\r\\n" % (i, extra)).encode()
            s.sendall(req(1) + req(2) + req(3, "Connection: close\\r\\n"))
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk: break
                data += chunk
            sys.stdout.write(data.decode("latin-1"))
            """
        let raw = try await Subprocess.run(URL(fileURLWithPath: "/usr/bin/python3"), ["-c", script, "\(f.dp.proxyPort)"],
                                           timeout: .seconds(30))
        #expect(raw.status == 0, "\(raw)")
        #expect(raw.stdout.components(separatedBy: "HTTP/1.1 200 OK").count == 4, "\(raw.stdout)")
        let order = ["i=1", "i=2", "i=3"].compactMap { raw.stdout.range(of: $0)?.lowerBound }
        #expect(order.count == 3 && order == order.sorted(), "\(raw.stdout)")

        // A malformed request pipelined behind a good one: the good one is answered first, then the 400.
        let bad = """
            import socket, sys
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=15)
            s.sendall(b"GET /p?i=1 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nGET /p HTTP/1.1\\r\\nNo colon here\\r\\n\\r\\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk: break
                data += chunk
            sys.stdout.write(data.decode("latin-1"))
            """
        let answered = try await Subprocess.run(URL(fileURLWithPath: "/usr/bin/python3"),
                                                ["-c", bad, "\(f.dp.proxyPort)"], timeout: .seconds(30))
        let ok = answered.stdout.range(of: "HTTP/1.1 200 OK")
        let refused = answered.stdout.range(of: "HTTP/1.1 400 Bad Request")
        #expect(ok.map { o in refused.map { o.lowerBound < $0.lowerBound } ?? false } ?? false, "\(answered.stdout)")

        // A slow request starts; its route and service are deleted meanwhile; it still completes.
        async let slow = ProxyCall.curl(f.dp.proxyURL + "/p?mode=slow&ms=1500")
        try await Task.sleep(for: .milliseconds(300))
        try await f.cp.admin().expect(204, "DELETE", "/routes/echo-route")
        try await f.sync()
        #expect(try await ProxyCall.curl(f.dp.proxyURL + "/p").status == 404)
        let finished = try await slow
        #expect(finished.status == 200, "\(finished)")
        try await f.stop()
    }
}
