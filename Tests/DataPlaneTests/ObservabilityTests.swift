import DataPlane
import Foundation
import GatewayModel
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Testing
import TestSupport

/// Metrics, access log and request ids through a whole in-process data plane (``DataPlaneServer``: proxy and status
/// listeners on port 0, its own Prometheus registry, the access log in a temporary file) in front of the python
/// echo upstream.
@Suite(.serialized) struct ObservabilityTests {
    /// A running data plane serving `content`.
    final class Plane: Sendable {
        let proxyPort: Int
        let statusPort: Int
        let registry: PrometheusCollectorRegistry
        let logPath: String
        private let group: ServiceGroup
        private let task: Task<Void, any Error>

        init(_ content: ConfigContent, maxRoutes: Int = 1000, format: AccessLog.Format = .json) async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("obs-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            self.registry = PrometheusCollectorRegistry()
            self.logPath = dir + "/access.log"
            var configuration = DataPlaneConfiguration()
            configuration.clusterSocket = dir + "/no-control-plane.sock"
            configuration.proxyHost = "127.0.0.1"
            configuration.proxyPort = 0
            configuration.statusHost = "127.0.0.1"
            configuration.statusPort = 0
            configuration.cacheDir = dir + "/cache"
            configuration.nodeID = "obs-test"
            configuration.workers = 1
            configuration.metricsRegistry = self.registry
            configuration.metricsMaxRoutes = maxRoutes
            configuration.accessLog = .file(self.logPath)
            configuration.accessLogFormat = format
            let logger = Logger(label: "test.observability")
            let server = try DataPlaneServer(configuration: configuration, logger: logger)
            server.state.apply(try ProxyHarness.config(content, registry: .builtIn))
            let (ports, continuation) = AsyncStream.makeStream(of: (String, Int).self)
            let services = server.services(
                onProxyBound: { continuation.yield(("proxy", $0.port ?? 0)) },
                onStatusBound: { continuation.yield(("status", $0.localAddress?.port ?? 0)) })
            self.group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                           logger: logger))
            let group = self.group
            self.task = Task { try await group.run() }
            var proxy = 0
            var status = 0
            for await (name, port) in ports {
                if name == "proxy" { proxy = port } else { status = port }
                if proxy != 0, status != 0 { break }
            }
            self.proxyPort = proxy
            self.statusPort = status
        }

        func stop() async {
            await self.group.triggerGracefulShutdown()
            _ = try? await self.task.value
        }

        /// `GET /metrics` on the status listener.
        func metrics() async throws -> String {
            let client = try RawHTTPClient(port: self.statusPort)
            try await client.request("GET", "/metrics", close: true)
            let response = try await client.read()
            #expect(response.status == 200)
            #expect(response.header("content-type")?.hasPrefix("text/plain") == true)
            return response.text
        }

        /// The access log's lines once there are at least `count` (the writer runs every few milliseconds).
        func logLines(atLeast count: Int) async throws -> [String] {
            for _ in 0..<250 {
                let text = (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? ""
                let lines = text.split(separator: "\n").map(String.init)
                if lines.count >= count { return lines }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw RawHTTPClient.Failure(description: "the access log did not get \(count) lines")
        }
    }

    /// The value of the series written exactly as `series` (name and labels), or nil.
    static func value(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    static func get(_ port: Int, _ path: String, _ headers: [(String, String)] = []) async throws
        -> RawHTTPClient.Response
    {
        try await PluginPipelineTests.get(port, path, headers: headers)
    }

    /// One HTTP/1.0 request: the fast lane hands it to the full HTTP/1.1 path.
    static func http10(_ port: Int, _ path: String, _ headers: [(String, String)] = []) async throws
        -> RawHTTPClient.Response
    {
        let client = try RawHTTPClient(port: port)
        var text = "GET \(path) HTTP/1.0\r\nHost: test.local\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        try await client.send(text + "\r\n")
        return try await client.read()
    }

    static func json(_ line: String) throws -> JSON { try JSONParser.parse(line) }

    typealias Send = @Sendable (Int, String, [(String, String)]) async throws -> RawHTTPClient.Response
    /// A request on the fast lane, and one on the full path.
    static let lanes: [(String, Send)] = [("fast", Self.get), ("full", Self.http10)]

    @Test("requests are counted by route, service and status class on both paths; latency, pools, config series")
    func requestSeries() async throws {
        let echo = try await EchoUpstream.start()
        var test = TestContent()
        test.service("s1", port: echo.port)
        test.route("r1", path: "/r1", service: "s1")
        let plane = try await Plane(test.content)
        defer { Task { await plane.stop() } }

        // Five on one keep-alive connection (the fast lane), one HTTP/1.0 (the full path), two without a route.
        let client = try RawHTTPClient(port: plane.proxyPort)
        for _ in 0..<5 {
            try await client.request("GET", "/r1/x")
            #expect(try await client.read().status == 200)
        }
        #expect(try await Self.http10(plane.proxyPort, "/r1/old").status == 200)
        #expect(try await Self.get(plane.proxyPort, "/nowhere").status == 404)
        #expect(try await Self.http10(plane.proxyPort, "/nowhere").status == 404)

        let text = try await plane.metrics()
        #expect(Self.value(text, #"portcullis_dp_requests_total{route="r1",service="s1",status_class="2xx"}"#) == 6,
                "\(text)")
        #expect(Self.value(text, #"portcullis_dp_requests_total{route="r1",service="s1",status_class="5xx"}"#) == 0)
        #expect(Self.value(text,
                           #"portcullis_dp_requests_total{route="_unmatched",service="_none",status_class="4xx"}"#) == 2)
        #expect(Self.value(text, #"portcullis_dp_request_duration_seconds_count{route="r1",service="s1"}"#) == 6)
        #expect(Self.value(text, #"portcullis_dp_upstream_duration_seconds_count{route="r1",service="s1"}"#) == 6)
        #expect(Self.value(text,
                           #"portcullis_dp_request_duration_seconds_bucket{route="r1",service="s1",le="60.0"}"#) == 6)
        // Upstream connections: every fast-lane request opened or reused one, the HTTP/1.0 one went on the full path.
        let fastOpened = Self.value(text, #"portcullis_dp_upstream_connections_total{pool="fast_lane",event="opened"}"#)
        let fastReused = Self.value(text, #"portcullis_dp_upstream_connections_total{pool="fast_lane",event="reused"}"#)
        #expect((fastOpened ?? 0) + (fastReused ?? 0) == 5)
        #expect((fastOpened ?? 0) >= 1)
        let fullOpened = Self.value(text, #"portcullis_dp_upstream_connections_total{pool="full_path",event="opened"}"#)
        let fullReused = Self.value(text, #"portcullis_dp_upstream_connections_total{pool="full_path",event="reused"}"#)
        #expect((fullOpened ?? 0) + (fullReused ?? 0) == 1)
        #expect(Self.value(text, "portcullis_dp_config_version") == 1)
        #expect(text.contains(#"portcullis_dp_config_info{version="1",hash=""#))
        #expect(Self.value(text, "portcullis_dp_control_plane_connected") == 0)
        #expect(Self.value(text, "portcullis_dp_metrics_route_labels") == 1)
        // Kong's name for the hash on the status page, beside ours.
        let status = try RawHTTPClient(port: plane.statusPort)
        try await status.request("GET", "/status", close: true)
        let page = try JSONParser.parse(try await status.read().text)
        #expect(page["configuration_hash"]?.stringValue?.count == 64)
        #expect(page["configuration_hash"] == page["config_hash"])

        // One access log line per request, JSON, in the order they ended.
        let lines = try await plane.logLines(atLeast: 8)
        #expect(lines.count == 8)
        let entries = try lines.map(Self.json)
        #expect(entries.map { $0["status"]?.intValue } == [200, 200, 200, 200, 200, 200, 404, 404])
        #expect(entries.map { $0["lane"]?.stringValue }
            == ["fast", "fast", "fast", "fast", "fast", "full", "fast", "full"])
        #expect(entries[0]["route"]?.stringValue == "r1")
        #expect(entries[0]["service"]?.stringValue == "s1")
        #expect(entries[0]["method"]?.stringValue == "GET")
        #expect(entries[0]["path"]?.stringValue == "/r1/x")
        #expect(entries[5]["path"]?.stringValue == "/r1/old")
        #expect(entries[0]["client"]?.stringValue == "127.0.0.1")
        #expect(entries[0]["outcome"]?.stringValue == "proxied")
        #expect(entries[6]["outcome"]?.stringValue == "local")
        #expect(entries[6]["route"] == .null)
        #expect((entries[0]["duration_ms"]?.doubleValue ?? -1) >= 0)
        #expect((entries[0]["upstream_ms"]?.doubleValue ?? -1) >= 0)
        #expect(entries[6]["upstream_ms"] == .null)
        #expect(Set(entries.compactMap { $0["request_id"]?.stringValue }).count == 8)
        #expect(Self.value(try await plane.metrics(), "portcullis_dp_access_log_lines_total") == 8)
        #expect(Self.value(try await plane.metrics(), "portcullis_dp_access_log_dropped_total") == 0)
    }

    @Test("X-Request-Id: made when absent, replaced from an untrusted peer, kept from a trusted one; sent both ways")
    func requestIDs() async throws {
        let echo = try await EchoUpstream.start()
        var test = TestContent()
        test.service("s1", port: echo.port)
        test.route("r1", path: "/r1", service: "s1")
        let untrusted = try await Plane(test.content)
        defer { Task { await untrusted.stop() } }

        for (lane, send) in Self.lanes {
            let made = try await send(untrusted.proxyPort, "/r1", [])
            let madeID = try #require(made.header("x-request-id"), "\(lane): \(made)")
            #expect(try PluginPipelineTests.echoed(made)["x-request-id"] == [madeID], "\(lane)")
            let forged = try await send(untrusted.proxyPort, "/r1", [("X-Request-Id", "from-the-client")])
            let replaced = try #require(forged.header("x-request-id"))
            #expect(replaced != "from-the-client", "\(lane)")
            #expect(try PluginPipelineTests.echoed(forged)["x-request-id"] == [replaced], "\(lane)")
            // A local answer carries one too.
            #expect(try await send(untrusted.proxyPort, "/nowhere", []).header("x-request-id") != nil, "\(lane)")
        }

        let content = ConfigContent(entities: test.content.entities, trustedIPs: ["127.0.0.1/32"])
        let trusted = try await Plane(content)
        defer { Task { await trusted.stop() } }
        for (lane, send) in Self.lanes {
            let kept = try await send(trusted.proxyPort, "/r1", [("X-Request-Id", "alb-\(lane)-1")])
            #expect(kept.header("x-request-id") == "alb-\(lane)-1", "\(lane): \(kept)")
            #expect(try PluginPipelineTests.echoed(kept)["x-request-id"] == ["alb-\(lane)-1"], "\(lane)")
            // Made when the trusted peer sends none.
            #expect(try await send(trusted.proxyPort, "/r1", []).header("x-request-id") != nil)
        }
        let lines = try await trusted.logLines(atLeast: 4)
        let ids = try lines.map { try Self.json($0)["request_id"]?.stringValue }
        #expect(ids.contains("alb-fast-1"))
        #expect(ids.contains("alb-full-1"))
    }

    @Test("header-cert-auth outcomes by reason and verdict cache hits and misses, with a real minted chain")
    func headerCertAuthOutcomes() async throws {
        let pki = try CertAuthPKI.load()
        let echo = try await EchoUpstream.start()
        var test = TestContent()
        test.service("s1", port: echo.port)
        test.route("main", path: "/main", service: "s1")
        test.route("untrusted", path: "/untrusted", service: "s1")
        test.route("nocons", path: "/nocons", service: "s1")
        test.route("anon", path: "/anon", service: "s1")
        typealias HCA = HeaderCertAuthPluginTests
        test.plugin("main", "header-cert-auth", route: "main", config: HCA.config())
        test.plugin("untrusted", "header-cert-auth", route: "untrusted",
                    config: HCA.config(["trusted_sources": ["10.0.0.0/8"]]))
        test.plugin("nocons", "header-cert-auth", route: "nocons",
                    config: HCA.config(["consumer_by": ["username"]], cas: ["other"]))
        test.plugin("anon", "header-cert-auth", route: "anon", config: HCA.config(["anonymous": "anonymous-user"]))
        let plane = try await Plane(HCA.content(test, pki: pki))
        defer { Task { await plane.stop() } }

        let chain = HCA.alb(pki.leaf, pki.intermediate)
        #expect(try await Self.get(plane.proxyPort, "/main", chain).status == 200)
        #expect(try await Self.get(plane.proxyPort, "/main", chain).status == 200)  // from the verdict cache
        #expect(try await Self.get(plane.proxyPort, "/main").status == 401)  // missing
        #expect(try await Self.get(plane.proxyPort, "/main", [(HCA.header, "garbage")]).status == 401)  // malformed
        #expect(try await Self.get(plane.proxyPort, "/main", HCA.alb(pki.expired, pki.intermediate)).status == 401)
        #expect(try await Self.get(plane.proxyPort, "/untrusted", chain).status == 401)
        #expect(try await Self.get(plane.proxyPort, "/nocons", HCA.alb(pki.otherLeaf)).status == 401)
        #expect(try await Self.get(plane.proxyPort, "/anon").status == 200)

        let text = try await plane.metrics()
        func reason(_ r: String) -> Double? {
            Self.value(text, #"portcullis_dp_header_cert_auth_total{reason="\#(r)"}"#)
        }
        #expect(reason("ok") == 2, "\(text)")
        #expect(reason("missing") == 1)
        #expect(reason("malformed") == 1)
        #expect(reason("verify_failed:expired") == 1)
        #expect(reason("untrusted_source") == 1)
        #expect(reason("no_consumer") == 1)
        #expect(reason("anonymous") == 1)
        #expect(reason("revoked") == 0)
        #expect(Self.value(text, #"portcullis_dp_header_cert_auth_verdict_cache_total{result="hit"}"#) == 1)
        #expect(Self.value(text, #"portcullis_dp_header_cert_auth_verdict_cache_total{result="miss"}"#) == 3)
        #expect(Self.value(text, #"portcullis_dp_requests_total{route="main",service="s1",status_class="4xx"}"#) == 3)
        #expect(Self.value(text, #"portcullis_dp_requests_total{route="main",service="s1",status_class="2xx"}"#) == 2)

        let entries = try await plane.logLines(atLeast: 8).map(Self.json)
        #expect(entries.map { $0["auth"]?.stringValue } == [
            "ok", "ok", "missing_header", "decode_failed:malformed", "verify_failed:expired", "untrusted_source",
            "consumer_not_found", "missing_header",
        ])
        #expect(entries[0]["consumer"]?.stringValue == "alice")
        #expect(entries[7]["consumer"]?.stringValue == "anonymous-user")
        #expect(entries[2]["consumer"] == .null)
    }

    @Test("route labels are capped: later routes count under _other, no series of their own")
    func routeLabelCap() async throws {
        let echo = try await EchoUpstream.start()
        var test = TestContent()
        test.service("s1", port: echo.port)
        for i in 1...4 { test.route("r\(i)", path: "/r\(i)", service: "s1") }
        let plane = try await Plane(test.content, maxRoutes: 2)
        defer { Task { await plane.stop() } }
        for i in 1...4 {
            #expect(try await Self.get(plane.proxyPort, "/r\(i)").status == 200)
            #expect(try await Self.get(plane.proxyPort, "/r\(i)").status == 200)
        }
        let text = try await plane.metrics()
        #expect(Self.value(text, #"portcullis_dp_requests_total{route="r1",service="s1",status_class="2xx"}"#) == 2)
        #expect(Self.value(text, #"portcullis_dp_requests_total{route="r2",service="s1",status_class="2xx"}"#) == 2)
        #expect(Self.value(text,
                           #"portcullis_dp_requests_total{route="_other",service="_other",status_class="2xx"}"#) == 4)
        #expect(!text.contains(#"route="r3""#))
        #expect(!text.contains(#"route="r4""#))
        #expect(Self.value(text, "portcullis_dp_metrics_route_labels") == 2)
        // Counted when each capped route's handles were made (once per route: cached on it after).
        #expect(Self.value(text, "portcullis_dp_metrics_route_labels_capped_total") == 2)
    }

    @Test("logfmt lines: one per request, values with spaces or quotes quoted")
    func logfmt() async throws {
        let echo = try await EchoUpstream.start()
        var test = TestContent()
        test.service("s1", port: echo.port)
        test.route("r1", path: "/r1", service: "s1")
        let content = ConfigContent(entities: test.content.entities, trustedIPs: ["127.0.0.1/32"])
        let plane = try await Plane(content, format: .logfmt)
        defer { Task { await plane.stop() } }
        #expect(try await Self.get(plane.proxyPort, "/r1/a", [("X-Request-Id", #"a"b"#)]).status == 200)
        let line = try #require(try await plane.logLines(atLeast: 1).first)
        #expect(line.hasPrefix("time="), "\(line)")
        #expect(line.contains(#" request_id="a\"b""#), "\(line)")
        #expect(line.contains(" method=GET path=/r1/a status=200 route=r1 service=s1 "), "\(line)")
        #expect(line.contains(" lane=fast outcome=proxied"), "\(line)")
        #expect(!line.contains("consumer="))
    }
}
