import Foundation
import GatewayModel
import Testing

/// The real binaries: `main` bootstraps the metrics registry and hands it to each plane; the access log flags.
@Suite(.serialized) struct ObservabilityProcessTests {
    static func value(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test("portcullis data-plane and control-plane serve /metrics; --access-log PATH --access-log-format logfmt")
    func processes() async throws {
        let dir = try TempDir()
        let logPath = dir.path("access.log")
        let fixture = try await ProxyFixture.start(
            dataPlane: ["--access-log", logPath, "--access-log-format", "logfmt"], dir: dir)
        try await fixture.addService("obs", ["url": .string(fixture.upstreamURL)], route: ["paths": ["/obs"]])
        try await fixture.sync()
        for _ in 0..<3 { #expect(try await fixture.dp.proxy.get("/obs/x").status == 200) }
        #expect(try await fixture.dp.proxy.get("/elsewhere").status == 404)

        let dpMetrics = try await fixture.dp.status.get("/metrics")
        #expect(dpMetrics.status == 200)
        let text = dpMetrics.body
        #expect(Self.value(text,
                           #"portcullis_dp_requests_total{route="obs-route",service="obs",status_class="2xx"}"#) == 3,
                "\(text)")
        #expect(Self.value(text,
                           #"portcullis_dp_requests_total{route="_unmatched",service="_none",status_class="4xx"}"#) == 1)
        #expect(Self.value(text, "portcullis_dp_control_plane_connected") == 1)
        #expect((Self.value(text, "portcullis_dp_config_version") ?? 0) >= 2)
        #expect((Self.value(text, #"portcullis_dp_config_applies_total{result="ok"}"#) ?? 0) >= 1)
        #expect((Self.value(text, "portcullis_dp_config_apply_duration_seconds_count") ?? 0) >= 1)

        let cpMetrics = try await fixture.cp.admin().get("/metrics")
        #expect(cpMetrics.status == 200)
        #expect(Self.value(cpMetrics.body, #"portcullis_cp_admin_requests_total{method="POST",status_class="2xx"}"#)
                == 2, "\(cpMetrics.body)")
        #expect(Self.value(cpMetrics.body, "portcullis_cp_data_planes_connected") == 1)
        #expect((Self.value(cpMetrics.body, "portcullis_cp_propagation_seconds_count") ?? 0) >= 1)

        var lines: [Substring] = []
        for _ in 0..<250 {
            lines = ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").split(separator: "\n")
            if lines.count >= 4 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(lines.count == 4, "\(lines)")
        #expect(lines.first?.contains(" method=GET path=/obs/x status=200 route=obs-route service=obs ") == true,
                "\(lines)")
        #expect(lines.last?.contains(" path=/elsewhere status=404 ") == true)
        try await fixture.stop()
    }
}
