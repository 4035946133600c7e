import ControlPlane
import Foundation
import GatewayModel
import GatewayProto
import HTTPTypes
import Prometheus
import Testing

/// `GET /metrics` of the admin API after real admin writes and a data plane's ACKs.
@Suite struct ControlPlaneMetricsTests {
    static func value(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test("admin requests by method and status class, snapshot builds, version, data planes, propagation")
    func series() async throws {
        let registry = PrometheusCollectorRegistry()
        var harness = AdminHarness()
        harness.registry = registry
        try await harness.run { admin, cp in
            #expect(try await admin.json(.post, "/services", ["name": "s1", "host": "example.com"]).status == 201)
            #expect(try await admin.json(.post, "/services", ["name": "s2", "host": "example.com"]).status == 201)
            #expect(try await admin.json(.post, "/services", ["name": "s2", "host": "example.com"]).status == 409)
            #expect(try await admin.get("/services/nope").status == 404)
            #expect(try await admin.get("/services").status == 200)
            let built = try await cp.builder.buildIfNeeded()

            // A data plane connects, gets the snapshot and ACKs it: one propagation time.
            let dp = try await TestDataPlane.connect(cp.socketPath)
            try await dp.send(TestDataPlane.hello(id: "dp-metrics"))
            guard case .welcome? = try await dp.next() else { throw TestFailure("no welcome") }
            guard case .snapshot(let snap)? = try await dp.next() else { throw TestFailure("no snapshot") }
            try await dp.send(.ack(.init(version: snap.version, hash: snap.hash, applyMS: 1)))
            try await ClusterServerTests.eventually {
                let text = String(decoding: registry.emitToBuffer(), as: UTF8.self)
                return Self.value(text, "portcullis_cp_propagation_seconds_count") == 1
            }

            let reply = try await admin.get("/metrics")
            #expect(reply.status == 200)
            #expect(reply.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = reply.text
            func requests(_ method: String, _ status: String) -> Double? {
                Self.value(text, #"portcullis_cp_admin_requests_total{method="\#(method)",status_class="\#(status)"}"#)
            }
            #expect(requests("POST", "2xx") == 2, "\(text)")
            #expect(requests("POST", "4xx") == 1)
            #expect(requests("GET", "4xx") == 1)
            // The GET /metrics being answered is counted once it is answered: not in its own text.
            #expect(requests("GET", "2xx") == 1)
            #expect(requests("DELETE", "2xx") == 0)
            #expect(Self.value(text, #"portcullis_cp_admin_request_duration_seconds_count{method="POST"}"#) == 3)
            #expect((Self.value(text, "portcullis_cp_snapshot_builds_total") ?? 0) >= 1)
            #expect((Self.value(text, "portcullis_cp_snapshot_build_duration_seconds_count") ?? 0) >= 1)
            #expect(Self.value(text, "portcullis_cp_snapshot_version") == Double(built.version))
            #expect(Self.value(text, "portcullis_cp_snapshot_size_bytes") == Double(built.size))
            #expect(Self.value(text, "portcullis_cp_data_planes_connected") == 1)
            #expect(Self.value(text, "portcullis_cp_propagation_seconds_count") == 1)
            #expect(Self.value(text, #"portcullis_cp_pushes_total{result="acked"}"#) == 1)
            #expect(Self.value(text, #"portcullis_cp_pushes_total{result="nacked"}"#) == 0)
        }
    }
}
