import GatewayModel
import HTTPTypes
import Hummingbird

/// `GET /clustering/data-planes` and `GET /clustering/status`.
struct ClusteringController {
    let builder: SnapshotBuilder
    let registry: DataPlaneRegistry

    func register(_ routes: AdminRoutes) {
        routes.add("/clustering/data-planes", [.get: { _, _ in
            AdminResponse.json(["data": .array(self.registry.snapshot(newest: self.builder.latest)), "next": .null])
        }])
        // `?wait_for_version=V[&timeout_ms=T]` answers once every connected data plane serves V or newer (or after
        // T ms, default 10 s, at most 5 min): what a deploy pipeline waits on after a change.
        routes.add("/clustering/status", [.get: { request, _ in
            let query = AdminQuery(request)
            // Checked whether or not there is a version to wait for: a bad value is never silently ignored.
            var timeoutMS = 10_000
            if let t = query["timeout_ms"] {
                guard let ms = Int(t), (0...300_000).contains(ms) else {
                    throw GatewayError.badRequest("timeout_ms must be a number of milliseconds between 0 and 300000")
                }
                timeoutMS = ms
            }
            guard let raw = query["wait_for_version"] else {
                return AdminResponse.json(self.registry.summary(newest: self.builder.latest))
            }
            guard let version = Int64(raw), version >= 0 else {
                throw GatewayError.badRequest("wait_for_version must be a configuration version (a number)")
            }
            let started = ContinuousClock.now
            let reached = await self.registry.waitUntilConverged(on: version, timeout: .milliseconds(timeoutMS))
            var summary = self.registry.summary(newest: self.builder.latest)
            summary["wait_for_version"] = .int(version)
            summary["reached"] = .bool(reached)
            let waited = ContinuousClock.now - started
            summary["waited_ms"] = .double(Double(waited.components.seconds) * 1000
                + Double(waited.components.attoseconds) / 1e15)
            return AdminResponse.json(summary)
        }])
    }
}
