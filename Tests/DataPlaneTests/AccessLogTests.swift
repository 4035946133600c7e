@testable import DataPlane
import Foundation
import GatewayModel
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Testing

/// The access log's writer without a proxy: the bounded queue, drops, the drain at shutdown, escaping.
@Suite struct AccessLogTests {
    static func entry(path: String = "/p", requestID: String? = nil, sequence: UInt64 = 1) -> AccessLogEntry {
        AccessLogEntry(time: 1_764_690_000.5,
                       requestID: RequestID(inbound: requestID, prefix: "abc-", sequence: sequence), client: "127.0.0.1", method: "GET", path: Substring(path), status: 200, route: "r", service: "s",
                       consumer: nil, auth: nil, totalNanos: 1_234_567, upstreamNanos: nil, lane: "fast",
                       outcome: "proxied")
    }

    static func value(_ registry: PrometheusCollectorRegistry, _ series: String) -> Double? {
        let text = String(decoding: registry.emitToBuffer(), as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test("a full queue drops and counts; what was queued is written at shutdown")
    func dropsWhenFull() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("access-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let registry = PrometheusCollectorRegistry()
        let metrics = DataPlaneMetrics(registry: registry)
        let log = try AccessLog(destination: .file(path), format: .json, capacity: 2, metrics: metrics)
        // The writer is not running yet: the third to fifth lines find the queue full.
        for i in 1...5 { log.submit(Self.entry(sequence: UInt64(i))) }
        #expect(Self.value(registry, "portcullis_dp_access_log_dropped_total") == 3)

        let group = ServiceGroup(configuration: .init(services: [log], logger: Logger(label: "test")))
        let task = Task { try await group.run() }
        await group.triggerGracefulShutdown()
        try await task.value
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(try lines.map { try JSONParser.parse(String($0))["request_id"]?.stringValue } == ["abc-1", "abc-2"])
        #expect(Self.value(registry, "portcullis_dp_access_log_lines_total") == 2)
    }

    @Test("a failing write (a full disk) drops and counts its lines; the proxy side never waits")
    func writeFailure() async throws {
        let registry = PrometheusCollectorRegistry()
        let log = try AccessLog(destination: .file("/dev/full"), format: .logfmt, capacity: 16,
                                metrics: DataPlaneMetrics(registry: registry))
        for i in 1...3 { log.submit(Self.entry(sequence: UInt64(i))) }
        let group = ServiceGroup(configuration: .init(services: [log], logger: Logger(label: "test")))
        let task = Task { try await group.run() }
        await group.triggerGracefulShutdown()
        try await task.value
        #expect(Self.value(registry, "portcullis_dp_access_log_dropped_total") == 3)
        #expect(Self.value(registry, "portcullis_dp_access_log_lines_total") == 0)
    }

    @Test("JSON lines escape quotes, backslashes and control bytes; numbers keep their precision")
    func jsonEscaping() throws {
        var out: [UInt8] = []
        Self.entry(path: "/a\"b\\c\u{01}d", requestID: "x\"y").writeJSON(into: &out)
        #expect(out.last == UInt8(ascii: "\n"))
        let json = try JSONParser.parse(String(decoding: out.dropLast(), as: UTF8.self))
        #expect(json["path"]?.stringValue == "/a\"b\\c\u{01}d")
        #expect(json["request_id"]?.stringValue == "x\"y")
        #expect(json["time"]?.doubleValue == 1_764_690_000.5)
        #expect(json["duration_ms"]?.doubleValue == 1.234)
        #expect(json["upstream_ms"] == .null)
        #expect(json["consumer"] == .null)
    }

    @Test("made request ids: the loop's prefix and a decimal sequence, written without a String")
    func requestIDs() {
        for value: UInt64 in [0, 7, 10, 99, 100, 12345, 10_000_000_000, .max] {
            var buffer = ByteBuffer()
            RequestID.writeDecimal(value, into: &buffer)
            #expect(String(buffer: buffer) == String(value))
        }
        var source = RequestIDSource()
        let first = source.make()
        let second = source.make(inbound: "kept")
        #expect(first.string.hasSuffix("-1"))
        #expect(first.string.utf8.count == 18)
        #expect(second.string == "kept")
        var written = ByteBuffer()
        first.write(into: &written)
        #expect(String(buffer: written) == first.string)
        #expect(RequestID.acceptable("abc-123".utf8))
        #expect(!RequestID.acceptable("".utf8))
        #expect(!RequestID.acceptable("a b".utf8))
        #expect(!RequestID.acceptable(String(repeating: "a", count: 201).utf8))
    }
}
