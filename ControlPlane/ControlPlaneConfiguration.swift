package import Prometheus

/// Everything `portcullis control-plane` is started with.
package struct ControlPlaneConfiguration: Sendable {
    package var databasePath: String = "./.portcullis/portcullis.db"
    package var adminHost: String = "127.0.0.1"
    package var adminPort: Int = 8001
    package var clusterSocket: String = "./.portcullis/cluster.sock"
    /// When set, every admin request must carry it (`Kong-Admin-Token` or `Authorization: Bearer`).
    package var adminToken: String?
    /// Gateway-wide trusted sources for `secure_source` (Kong's `trusted_ips`).
    package var trustedIPs: [String] = []
    package var snapshotRetention: Int = 500
    /// Largest admin request body accepted (declarative imports of large configs need room).
    package var adminBodyLimit: Int = 64 * 1024 * 1024
    /// Largest cluster frame accepted from a data plane (snapshots go the other way and obey each DP's limit).
    package var clusterMaxFrame: Int = 256 * 1024 * 1024
    package var heartbeatInterval: Duration = .seconds(1)
    /// Where the control plane's series live (`GET /metrics`); `main` passes the registry it bootstrapped
    /// swift-metrics with, tests their own; nil: a private one.
    package var metricsRegistry: PrometheusCollectorRegistry?

    package init() {}
}
