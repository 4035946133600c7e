import DataPlane
import Foundation
import GatewayModel
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The plugin pipeline through real sockets: an in-process proxy (one worker) in front of the python echo upstream.
@Suite(.serialized) struct PluginPipelineTests {
    /// The upstream's view of the request: header values by lowercased name.
    static func echoed(_ response: RawHTTPClient.Response) throws -> [String: [String]] {
        let json = try JSONParser.parse(response.text)
        var out: [String: [String]] = [:]
        for pair in json["headers"]?.arrayValue ?? [] {
            guard let k = pair.arrayValue?.first?.stringValue, let v = pair.arrayValue?.last?.stringValue else {
                continue
            }
            out[k.lowercased(), default: []].append(v)
        }
        return out
    }

    static func get(_ port: Int, _ path: String, headers: [(String, String)] = []) async throws
        -> RawHTTPClient.Response
    {
        let client = try RawHTTPClient(port: port)
        try await client.request("GET", path, headers: headers)
        return try await client.read()
    }

    static func traces(_ response: RawHTTPClient.Response) -> [String] {
        response.headers.filter { $0.name.lowercased() == "x-trace" }.map(\.value)
    }

    @Test("""
        access runs in priority order on the upstream request, most specific instance first; header_filter sees \
        every response head
        """)
    func orderScopeAndHeaderFilter() async throws {
        let echo = try await EchoUpstream.start()
        let journal = Journal()
        var content = TestContent()
        content.service("s1", port: echo.port)
        content.service("s2", port: echo.port)
        content.route("t", path: "/t", service: "s1")
        content.route("other", path: "/other", service: "s2")
        content.plugin("alpha-global", "alpha", config: ["label": "alpha-global"])
        content.plugin("alpha-route", "alpha", route: "t", config: ["label": "alpha-route"])
        content.plugin("beta-service", "beta", service: "s1", config: ["label": "beta-service"])
        content.plugin("gamma-global", "gamma", config: ["label": "gamma-global"])
        let proxy = try await ProxyHarness.start(content.content, registry: TestPlugins.registry(journal))

        let t = try await Self.get(proxy.port, "/t")
        #expect(t.status == 200, "\(t)")
        #expect(try Self.echoed(t)["x-order"] == ["alpha-route,beta-service,gamma-global"])
        #expect(Self.traces(t) == ["alpha-route", "beta-service", "gamma-global"])
        let other = try await Self.get(proxy.port, "/other")
        #expect(try Self.echoed(other)["x-order"] == ["alpha-global,gamma-global"])
        // header_filter changes the upstream's headers: X-Upstream-Error is removed.
        let failed = try await Self.get(proxy.port, "/t?mode=status&code=503")
        #expect(failed.status == 503)
        #expect(failed.header("x-upstream-error") == nil)
        #expect(Self.traces(failed) == ["alpha-route", "beta-service", "gamma-global"])
        // log: once per plugin per request, after the response, with its status.
        let logs = try await journal.logs("alpha-route", count: 2)
        #expect(logs.map(\.status) == [200, 503])
        #expect(logs.allSatisfy { $0.outcome == .proxied })
        #expect(journal.logs("alpha-global").count == 1)
        await proxy.stop()
    }

    @Test("identity headers a client could forge are gone before access; plugins add the verified ones")
    func identityStrippedBeforeAccess() async throws {
        let echo = try await EchoUpstream.start()
        var content = TestContent()
        content.service("s1", port: echo.port)
        content.route("t", path: "/t", service: "s1")
        content.plugin("auth", "auth")
        let proxy = try await ProxyHarness.start(content.content, registry: TestPlugins.registry(Journal()))

        let forged = [("X-Consumer-ID", "forged"), ("X-Consumer-Username", "forged"), ("X-Client-Cert-DN", "CN=forged"),
                      ("X-Client-Cert-SAN", "forged"), ("X-Anonymous-Consumer", "true")]
        let response = try await Self.get(proxy.port, "/t", headers: forged + [("X-Test-User", "alice")])
        let seen = try Self.echoed(response)
        #expect(seen["x-forged-seen"] == nil, "a forged identity header reached access: \(seen)")
        #expect(seen["x-consumer-id"] == [TestContent.id("consumer", "alice")])
        #expect(seen["x-consumer-username"] == ["alice"])
        #expect(seen["x-client-cert-dn"] == nil)
        #expect(seen["x-anonymous-consumer"] == nil)
        await proxy.stop()
    }

    @Test("consumer-scoped instances resolve with the consumer known when their plugin's turn comes")
    func consumerScoping() async throws {
        let echo = try await EchoUpstream.start()
        var content = TestContent()
        content.service("s1", port: echo.port)
        content.route("r1", path: "/r1", service: "s1")
        content.route("r2", path: "/r2", service: "s1")
        content.plugin("auth", "auth")
        content.plugin("scoped-global", "scoped", config: ["label": "global"])
        content.plugin("scoped-alice", "scoped", consumer: "alice", config: ["label": "alice"])
        content.plugin("scoped-bob-r1", "scoped", route: "r1", consumer: "bob", config: ["label": "bob-r1"])
        // "early" runs before auth (priority 2000 > 1000): no consumer is known yet, its global instance runs.
        content.plugin("early-global", "early", config: ["label": "early-global"])
        content.plugin("early-alice", "early", consumer: "alice", config: ["label": "early-alice"])
        let proxy = try await ProxyHarness.start(content.content, registry: TestPlugins.registry(Journal()))

        func order(_ path: String, _ user: String?) async throws -> [String]? {
            let response = try await Self.get(proxy.port, path, headers: user.map { [("X-Test-User", $0)] } ?? [])
            return try Self.echoed(response)["x-order"]
        }
        #expect(try await order("/r1", nil) == ["early-global,global"])
        #expect(try await order("/r1", "alice") == ["early-global,alice"])
        #expect(try await order("/r1", "bob") == ["early-global,bob-r1"])
        #expect(try await order("/r2", "bob") == ["early-global,global"])
        await proxy.stop()
    }

    @Test("an early answer: status, body and headers sent, the body not forwarded, the connection kept")
    func earlyResponse() async throws {
        let echo = try await EchoUpstream.start()
        let journal = Journal()
        var content = TestContent()
        content.service("s1", port: echo.port)
        content.route("t", path: "/t", service: "s1")
        content.plugin("alpha", "alpha", config: ["label": "alpha"])
        content.plugin("exit", "exit", route: "t", config: ["status": 418, "message": "short and stout"])
        content.plugin("beta", "beta", config: ["label": "beta"])
        let proxy = try await ProxyHarness.start(content.content, registry: TestPlugins.registry(journal))

        let before = try await echo.requests()
        let client = try RawHTTPClient(port: proxy.port)
        try await client.request("POST", "/t", headers: [("X-Exit", "1")], body: Array(repeating: 65, count: 100_000))
        let exited = try await client.read()
        #expect(exited.status == 418, "\(exited)")
        #expect(exited.text == #"{"message":"short and stout"}"#)
        #expect(exited.header("x-exit") == "yes")
        #expect(exited.header("content-type") == "application/json; charset=utf-8")
        // header_filter runs for the plugins after the exit too (Kong resolves them; only their access is skipped).
        #expect(Self.traces(exited) == ["alpha", "beta"])
        // Same connection, next request: the drained body did not confuse it.
        try await client.request("GET", "/t")
        let next = try await client.read()
        #expect(next.status == 200, "\(next)")
        #expect(try Self.echoed(next)["x-order"] == ["alpha,beta"])
        #expect(try await echo.requests() == before + 1)
        #expect(try await journal.logs("alpha", count: 2).map(\.outcome) == [.exited(plugin: "exit"), .proxied])
        #expect(try await journal.logs("beta", count: 2).map(\.status) == [418, 200])

        // A client waiting for 100 Continue gets the answer instead, and the connection closes after it.
        let waiting = try RawHTTPClient(port: proxy.port)
        try await waiting.send("POST /t HTTP/1.1\r\nHost: x\r\nX-Exit: 1\r\nExpect: 100-continue\r\n"
            + "Content-Length: 10\r\n\r\n")
        let refused = try await waiting.read()
        #expect(refused.status == 418)
        #expect(refused.header("connection") == "close")
        #expect(try await waiting.isClosedByPeer())
        await proxy.stop()
    }

    @Test("log runs exactly once per request: proxied, early exits, upstream failures (502)")
    func logOnce() async throws {
        let echo = try await EchoUpstream.start()
        let journal = Journal()
        var content = TestContent()
        content.service("s1", port: echo.port)
        content.service("dead", port: try closedPort())
        content.route("t", path: "/t", service: "s1")
        content.route("dead", path: "/dead", service: "dead")
        content.plugin("alpha", "alpha", config: ["label": "alpha"])
        content.plugin("exit", "exit", config: ["status": 403, "message": "no"])
        let proxy = try await ProxyHarness.start(content.content, registry: TestPlugins.registry(journal))

        let client = try RawHTTPClient(port: proxy.port)
        for path in ["/t", "/dead", "/t", "/dead"] {
            try await client.request("GET", path)
            _ = try await client.read()
        }
        try await client.request("GET", "/t", headers: [("X-Exit", "1")])
        #expect(try await client.read().status == 403)
        let bad = try await Self.get(proxy.port, "/dead")
        #expect(bad.status == 502)
        #expect(Self.traces(bad) == ["alpha"])
        let logs = try await journal.logs("alpha", count: 6)
        #expect(logs.map(\.path) == ["/t", "/dead", "/t", "/dead", "/t", "/dead"])
        #expect(logs.map(\.status) == [200, 502, 200, 502, 403, 502])
        #expect(logs.map(\.outcome) == [.proxied, .answered, .proxied, .answered, .exited(plugin: "exit"), .answered])
        // Exactly once: nothing more arrives later.
        try await Task.sleep(for: .milliseconds(100))
        #expect(journal.logs("alpha").count == 6)
        await proxy.stop()
    }

    @Test("a suspended access waits without blocking the loop, keeps the body, then proceeds, answers or fails")
    func suspension() async throws {
        let echo = try await EchoUpstream.start()
        var content = TestContent()
        content.service("s1", port: echo.port)
        content.route("slow", path: "/slow", service: "s1")
        content.route("deny", path: "/deny", service: "s1")
        content.route("fail", path: "/fail", service: "s1")
        content.route("fast", path: "/fast", service: "s1")
        content.plugin("slow", "slow", route: "slow", config: ["ms": 1000])
        content.plugin("deny", "slow", route: "deny", config: ["ms": 100, "deny": true])
        content.plugin("fail", "slow", route: "fail", config: ["ms": 50, "fail": true])
        let proxy = try await ProxyHarness.start(content.content, registry: TestPlugins.registry(Journal()))

        let clock = ContinuousClock()
        let start = clock.now
        let slow = try RawHTTPClient(port: proxy.port)
        try await slow.request("POST", "/slow", body: Array(repeating: 66, count: 50_000))
        // The one event loop still serves another connection meanwhile, and the suspended request is still waiting.
        let fast = try await Self.get(proxy.port, "/fast")
        #expect(fast.status == 200)
        #expect(clock.now - start < .milliseconds(1000), "the loop was blocked by a suspended plugin")
        #expect(!slow.hasData(), "the suspended request was answered before its plugin resumed")
        let done = try await slow.read()
        #expect(done.status == 200, "\(done)")
        #expect(clock.now - start >= .milliseconds(1000))
        #expect(try Self.echoed(done)["x-slow"] == ["done"])
        let json = try JSONParser.parse(done.text)
        #expect(json["body_length"]?.intValue == 50_000, "\(done.text.prefix(300))")

        let denied = try RawHTTPClient(port: proxy.port)
        try await denied.request("POST", "/deny", body: Array(repeating: 67, count: 10_000))
        let answer = try await denied.read()
        #expect(answer.status == 401)
        #expect(answer.text == #"{"message":"slow no"}"#)
        try await denied.request("GET", "/fast")
        #expect(try await denied.read().status == 200)

        let failed = try await Self.get(proxy.port, "/fail")
        #expect(failed.status == 500)
        #expect(failed.text == #"{"message":"An unexpected error occurred"}"#)
        await proxy.stop()
    }

    @Test("a route covered by a plugin without a runtime in this build is refused (500), never forwarded")
    func unknownRuntimeRefused() async throws {
        let echo = try await EchoUpstream.start()
        var content = TestContent()
        content.service("s1", port: echo.port)
        content.route("mtls", path: "/mtls", service: "s1")
        content.route("open", path: "/open", service: "s1")
        content.plugin("hca", "header-cert-auth", route: "mtls", config: ["certificate_header_name": "x-cert"])
        let proxy = try await ProxyHarness.start(content.content, registry: TestPlugins.registry(Journal()))

        let before = try await echo.requests()
        let refused = try await Self.get(proxy.port, "/mtls")
        #expect(refused.status == 500)
        #expect(refused.text == #"{"message":"An unexpected error occurred"}"#)
        #expect(try await echo.requests() == before)
        #expect(try await Self.get(proxy.port, "/open").status == 200)
        await proxy.stop()
    }

    @Test("request-termination: fixed answers, defaults, trigger, raw body, echo")
    func requestTermination() async throws {
        let echo = try await EchoUpstream.start()
        var content = TestContent()
        content.service("s1", port: echo.port)
        for name in ["msg", "default", "trigger", "raw", "echo"] {
            content.route(name, path: "/" + name, service: "s1")
        }
        content.plugin("msg", "request-termination", route: "msg", config: ["status_code": 403, "message": "go away"])
        content.plugin("default", "request-termination", route: "default", config: ["status_code": 503])
        content.plugin("trigger", "request-termination", route: "trigger",
                       config: ["status_code": 401, "trigger": "X-Block"])
        content.plugin("raw", "request-termination", route: "raw",
                       config: ["status_code": 200, "body": "<b>bye</b>", "content_type": "text/html"])
        content.plugin("echo", "request-termination", route: "echo", config: ["status_code": 404, "echo": true])
        let proxy = try await ProxyHarness.start(content.content, registry: .builtIn)

        let msg = try await Self.get(proxy.port, "/msg")
        #expect(msg.status == 403)
        #expect(msg.text == #"{"message":"go away"}"#)
        #expect(try await Self.get(proxy.port, "/default").text == #"{"message":"Service unavailable"}"#)
        #expect(try await Self.get(proxy.port, "/trigger").status == 200)
        #expect(try await Self.get(proxy.port, "/trigger", headers: [("X-Block", "1")]).status == 401)
        let byQuery = try await Self.get(proxy.port, "/trigger?a=1&x-block")
        #expect(byQuery.status == 401)
        #expect(byQuery.text == #"{"message":"Unauthorized"}"#)
        let raw = try await Self.get(proxy.port, "/raw")
        #expect(raw.text == "<b>bye</b>")
        #expect(raw.header("content-type") == "text/html")
        let echoed = try await Self.get(proxy.port, "/echo?q=1", headers: [("X-Hello", "there")])
        #expect(echoed.status == 404)
        let json = try JSONParser.parse(echoed.text)
        #expect(json["message"] == "Not found")
        #expect(json["request"]?["method"] == "GET")
        #expect(json["request"]?["path"] == "/echo")
        #expect(json["request"]?["query"]?["q"] == "1")
        #expect(json["request"]?["headers"]?["x-hello"] == "there")
        #expect(json["matched_route"]?["name"] == "echo")
        await proxy.stop()
    }
}

extension PluginPipelineTests {
    @Test("a header a plugin made unsendable: the request is refused (500) before going upstream, a response field dropped")
    func unsendableHeadersFromPlugins() async throws {
        let echo = try await EchoUpstream.start()
        var content = TestContent()
        content.service("s1", port: echo.port)
        content.route("t", path: "/t", service: "s1")
        content.plugin("taint", "taint")
        let proxy = try await ProxyHarness.start(content.content, registry: TestPlugins.registry(Journal()))
        let clean = try await Self.get(proxy.port, "/t")
        #expect(clean.status == 200, "\(clean)")
        let before = try await echo.requests()

        let request = try await Self.get(proxy.port, "/t", headers: [("X-Taint", "request")])
        #expect(request.status == 500, "\(request)")
        #expect(request.text == #"{"message":"An unexpected error occurred"}"#)
        #expect(try await echo.requests() == before, "nothing may reach the upstream")

        let response = try await Self.get(proxy.port, "/t", headers: [("X-Taint", "response")])
        #expect(response.status == 200, "\(response)")
        #expect(response.header("x-fine") == "ok")
        #expect(response.header("x-injected") == nil)
        #expect(response.header("x-evil") == nil)
        #expect(response.header("bad name") == nil)
        await proxy.stop()
    }
}

/// A port nothing listens on: bound by the OS, then closed.
func closedPort() throws -> Int {
    let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socketFD >= 0 else { throw RawHTTPClient.Failure(description: "socket() failed") }
    defer { close(socketFD) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(socketFD, $0, length) == 0 && getsockname(socketFD, $0, &length) == 0
        }
    }
    guard ok else { throw RawHTTPClient.Failure(description: "bind() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}
