import Foundation
package import Prometheus
import Synchronization

/// The control plane's Prometheus series (`GET /metrics` on the admin listener), all in one registry. Label sets
/// are fixed: admin requests by method (the seven the admin API answers, anything else as `other`) and status
/// class; pushes by result.
package final class ControlPlaneMetrics: Sendable {
    package let registry: PrometheusCollectorRegistry

    static let adminBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        .seconds(30),
    ]
    static let buildBuckets: [Duration] = [
        .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10),
        .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30),
    ]
    static let propagationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        .seconds(30),
    ]
    static let methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"]
    static let classes = ["1xx", "2xx", "3xx", "4xx", "5xx"]

    /// Method → status class → counter.
    private let adminRequests: [String: [Counter]]
    private let adminDuration: [String: DurationHistogram]
    let buildDuration: DurationHistogram
    let builds: Counter
    let snapshotSize: Gauge
    let snapshotVersion: Gauge
    let dataPlanesConnected: Gauge
    let propagation: DurationHistogram
    let pushesAcked: Counter
    let pushesRejected: Counter

    package init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        var requests: [String: [Counter]] = [:]
        var durations: [String: DurationHistogram] = [:]
        for method in Self.methods {
            requests[method] = Self.classes.map { status in
                registry.makeCounter(name: "portcullis_cp_admin_requests_total",
                                     labels: [("method", method), ("status_class", status)],
                                     help: "Admin API requests answered, by method and status class.")
            }
            durations[method] = registry.makeDurationHistogram(
                name: "portcullis_cp_admin_request_duration_seconds", labels: [("method", method)],
                buckets: Self.adminBuckets, help: "Time to answer an admin API request.")
        }
        self.adminRequests = requests
        self.adminDuration = durations
        self.buildDuration = registry.makeDurationHistogram(
            name: "portcullis_cp_snapshot_build_duration_seconds", buckets: Self.buildBuckets,
            help: "Time to build a snapshot (read the changes, encode, hash, delta) from committed versions.")
        self.builds = registry.makeCounter(name: "portcullis_cp_snapshot_builds_total", help: "Snapshots built.")
        self.snapshotSize = registry.makeGauge(name: "portcullis_cp_snapshot_size_bytes",
                                               help: "Encoded size of the newest snapshot, uncompressed.")
        self.snapshotVersion = registry.makeGauge(name: "portcullis_cp_snapshot_version",
                                                  help: "Version of the newest snapshot built.")
        self.dataPlanesConnected = registry.makeGauge(name: "portcullis_cp_data_planes_connected",
                                                      help: "Data planes connected to the cluster socket now.")
        self.propagation = registry.makeDurationHistogram(
            name: "portcullis_cp_propagation_seconds", buckets: Self.propagationBuckets,
            help: "Time from sending a snapshot or delta to a data plane to its ACK (apply included).")
        self.pushesAcked = registry.makeCounter(name: "portcullis_cp_pushes_total", labels: [("result", "acked")],
                                                help: "Snapshots and deltas pushed to data planes, by their answer.")
        self.pushesRejected = registry.makeCounter(name: "portcullis_cp_pushes_total", labels: [("result", "nacked")],
                                                   help: "Snapshots and deltas pushed to data planes, by their answer.")
    }

    func adminRequest(method: String, status: Int, duration: Duration) {
        let key = self.adminRequests[method] == nil ? "other" : method
        self.adminRequests[key]?[min(4, max(0, status / 100 - 1))].increment()
        self.adminDuration[key]?.record(duration)
    }

    func snapshotBuilt(version: Int64, size: Int, duration: Duration) {
        self.builds.increment()
        self.buildDuration.record(duration)
        self.snapshotSize.set(to: Double(size))
        self.snapshotVersion.set(to: Double(version))
    }

    /// The exposition text.
    package func render() -> [UInt8] { self.registry.emitToBuffer() }
}
