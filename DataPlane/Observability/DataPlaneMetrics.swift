package import Prometheus
import Synchronization

/// The data plane's Prometheus series (`GET /metrics` on the status listener), all in one registry.
///
/// Every handle is made before the request that uses it: the fixed ones here, once per process; a route's on its
/// first request (``routeMetrics(_:serviceLabel:)``), cached on its ``CompiledRoute``. A request then costs a few
/// atomic increments and two histogram observations, never a lookup by name or a label string.
///
/// Label sets are bounded: `status_class` is one of `1xx`…`5xx`; at most ``maxRouteLabels`` distinct `route`
/// values are ever made (since the process started), later routes count under `route="_other"`,
/// `service="_other"`; requests that match no route count under `route="_unmatched"`.
package final class DataPlaneMetrics: Sendable {
    package let registry: PrometheusCollectorRegistry
    /// Distinct `route` label values made at most (``Names/otherLabel`` past it).
    package let maxRouteLabels: Int

    /// Latency buckets of every request histogram (seconds as Prometheus shows them): 0.5 ms to 60 s.
    static let latencyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]
    /// Buckets of the configuration apply histogram: 100 µs to 30 s.
    static let applyBuckets: [Duration] = [
        .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10),
        .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30),
    ]

    /// Requests matching no route (404), or answered before routing (503 without configuration).
    let unmatched: RouteMetrics
    /// Routes past the label cap.
    let other: RouteMetrics

    private struct RouteTable {
        /// Route label values made so far (bounded by ``maxRouteLabels``).
        var labels: Set<String> = []
        /// Handles by route and service label.
        var handles: [RouteKey: RouteMetrics] = [:]
    }

    private struct RouteKey: Hashable {
        var route: String
        var service: String
    }

    private let routes = Mutex(RouteTable())
    let routeLabelsUsed: Gauge
    let routeLabelsCapped: Counter

    // header-cert-auth
    private let authOutcomes: [String: Counter]
    private let authOther: Counter
    let verdictCacheHits: Counter
    let verdictCacheMisses: Counter

    // Upstream connections
    let fastLanePool: PoolMetrics
    let fullPathPool: PoolMetrics

    // Configuration and control plane link
    let configVersion: Gauge
    let configAppliedAt: Gauge
    private let configInfo = Mutex<Gauge?>(nil)
    let applyDuration: DurationHistogram
    let appliesOK: Counter
    let appliesFailed: Counter
    let controlPlaneConnected: Gauge
    let controlPlaneConnects: Counter

    // Access log
    let accessLogLines: Counter
    let accessLogDropped: Counter

    /// The reason labels of `portcullis_dp_header_cert_auth_total` (verify reasons: CertAuth's
    /// `VerificationFailure.Reason` labels and the strict revocation mode's `revocation_unavailable`).
    static let authReasons: [String] = ["ok", "missing", "malformed", "untrusted_source", "revoked", "no_consumer",
                                        "anonymous"]
        + ["malformed", "expired", "not_yet_valid", "unknown_ca", "bad_signature", "purpose", "leaf_is_ca",
           "invalid_ca", "path_length", "chain_too_long", "critical_extension", "invalid_extension",
           "name_constraints", "policy", "weak_key", "non_conforming", "bad_serial", "invalid_name", "revoked",
           "other", "revocation_unavailable"].map { "verify_failed:" + $0 }

    /// - Parameters:
    ///   - registry: where the series live; `main` passes the one it bootstrapped swift-metrics with, tests their
    ///     own.
    ///   - maxRouteLabels: the route label cap (``maxRouteLabels``).
    package init(registry: PrometheusCollectorRegistry, maxRouteLabels: Int = 1000) {
        self.registry = registry
        self.maxRouteLabels = max(0, maxRouteLabels)
        let owner = ObjectIdentifier(registry)
        self.unmatched = RouteMetrics(registry: registry, route: Names.unmatchedLabel, service: Names.noneLabel,
                                      owner: owner)
        self.other = RouteMetrics(registry: registry, route: Names.otherLabel, service: Names.otherLabel, owner: owner)
        self.routeLabelsUsed = registry.makeGauge(name: Names.routeLabels, help: Names.routeLabelsHelp)
        self.routeLabelsCapped = registry.makeCounter(name: Names.routeLabelsCapped, help: Names.routeLabelsCappedHelp)

        var outcomes: [String: Counter] = [:]
        for reason in Self.authReasons {
            outcomes[reason] = registry.makeCounter(name: Names.auth, labels: [("reason", reason)],
                                                    help: Names.authHelp)
        }
        self.authOutcomes = outcomes
        self.authOther = registry.makeCounter(name: Names.auth, labels: [("reason", "verify_failed:other")],
                                              help: Names.authHelp)
        self.verdictCacheHits = registry.makeCounter(name: Names.verdictCache, labels: [("result", "hit")],
                                                     help: Names.verdictCacheHelp)
        self.verdictCacheMisses = registry.makeCounter(name: Names.verdictCache, labels: [("result", "miss")],
                                                       help: Names.verdictCacheHelp)

        self.fastLanePool = PoolMetrics(registry: registry, pool: "fast_lane")
        self.fullPathPool = PoolMetrics(registry: registry, pool: "full_path")

        self.configVersion = registry.makeGauge(name: Names.configVersion, help: Names.configVersionHelp)
        self.configAppliedAt = registry.makeGauge(name: Names.configAppliedAt, help: Names.configAppliedAtHelp)
        self.applyDuration = registry.makeDurationHistogram(name: Names.applyDuration, buckets: Self.applyBuckets,
                                                            help: Names.applyDurationHelp)
        self.appliesOK = registry.makeCounter(name: Names.applies, labels: [("result", "ok")], help: Names.appliesHelp)
        self.appliesFailed = registry.makeCounter(name: Names.applies, labels: [("result", "failed")],
                                                  help: Names.appliesHelp)
        self.controlPlaneConnected = registry.makeGauge(name: Names.cpConnected, help: Names.cpConnectedHelp)
        self.controlPlaneConnects = registry.makeCounter(name: Names.cpConnects, help: Names.cpConnectsHelp)

        self.accessLogLines = registry.makeCounter(name: Names.accessLogLines, help: Names.accessLogLinesHelp)
        self.accessLogDropped = registry.makeCounter(name: Names.accessLogDropped, help: Names.accessLogDroppedHelp)
    }

    // MARK: Routes

    /// The handles of `route` served by the service labelled `serviceLabel`: cached on the route after its first
    /// request, so later ones cost one atomic load.
    @inline(__always)
    func routeMetrics(_ route: CompiledRoute, serviceLabel: @autoclosure () -> String) -> RouteMetrics {
        if let cached = route.metrics.load(), cached.owner == ObjectIdentifier(self.registry) { return cached }
        let made = self.makeRouteMetrics(route: Names.label(route.name ?? route.id),
                                         service: Names.label(serviceLabel()))
        // A route compiled for another registry (tests share nothing, but be exact) is never cached over.
        if route.metrics.load() == nil { return route.metrics.storeIfNil(made) }
        return made
    }

    private func makeRouteMetrics(route: String, service: String) -> RouteMetrics {
        self.routes.withLock { table in
            let key = RouteKey(route: route, service: service)
            if let known = table.handles[key] { return known }
            if !table.labels.contains(route) {
                guard table.labels.count < self.maxRouteLabels else {
                    self.routeLabelsCapped.increment()
                    return self.other
                }
                table.labels.insert(route)
                self.routeLabelsUsed.set(to: Double(table.labels.count))
            }
            let made = RouteMetrics(registry: self.registry, route: route, service: service,
                                    owner: ObjectIdentifier(self.registry))
            table.handles[key] = made
            return made
        }
    }

    // MARK: header-cert-auth

    /// Counts one header-cert-auth decision: `outcome` is the plugin's detailed outcome, mapped onto the bounded
    /// reason set (``authReasons``).
    func countAuth(outcome: String, anonymous: Bool, cached: Bool?) {
        if let cached {
            if cached { self.verdictCacheHits.increment() } else { self.verdictCacheMisses.increment() }
        }
        let reason = anonymous ? "anonymous" : Self.authReason(outcome)
        (self.authOutcomes[reason] ?? self.authOther).increment()
    }

    /// The metric reason of a header-cert-auth outcome (``HeaderCertAuthPlugin`` logs the detailed one).
    static func authReason(_ outcome: String) -> String {
        switch outcome {
        case "ok", "ok_default_consumer": "ok"
        case "missing_header": "missing"
        case "untrusted_source": "untrusted_source"
        case "revoked": "revoked"
        case "consumer_not_found", "no_common_name": "no_consumer"
        default: outcome.hasPrefix("decode_failed:") ? "malformed" : outcome
        }
    }

    // MARK: Configuration

    /// Records a configuration now served: version and apply time gauges, and the one `config_info` series
    /// (the previous version's is removed, so the series stay bounded).
    package func configApplied(version: Int64, hash: String, source: String, duration: Duration?) {
        self.configVersion.set(to: Double(version))
        self.configAppliedAt.set(to: Date.now.timeIntervalSince1970)
        if let duration {
            self.applyDuration.record(duration)
            self.appliesOK.increment()
        }
        let info = self.registry.makeGauge(
            name: Names.configInfo, labels: [("version", String(version)), ("hash", String(hash.prefix(64))),
                                             ("source", source)],
            help: Names.configInfoHelp)
        info.set(to: 1)
        let previous = self.configInfo.withLock { current -> Gauge? in
            defer { current = info }
            return current === info ? nil : current
        }
        if let previous { self.registry.unregisterGauge(previous) }
    }

    package func configRejected() { self.appliesFailed.increment() }

    package func controlPlane(connected: Bool) {
        self.controlPlaneConnected.set(to: connected ? 1 : 0)
        if connected { self.controlPlaneConnects.increment() }
    }

    /// The exposition text.
    package func render() -> [UInt8] { self.registry.emitToBuffer() }
}

import Foundation

/// The request series of one route label (and service label): a counter per status class and the two latency
/// histograms.
final class RouteMetrics: Sendable {
    /// `1xx` … `5xx`.
    let requests: [Counter]
    let duration: DurationHistogram
    let upstreamDuration: DurationHistogram
    /// The registry it lives in (a route uses only handles of the registry it is counted in).
    let owner: ObjectIdentifier

    init(registry: PrometheusCollectorRegistry, route: String, service: String, owner: ObjectIdentifier) {
        self.owner = owner
        self.requests = ["1xx", "2xx", "3xx", "4xx", "5xx"].map { status in
            registry.makeCounter(name: Names.requests,
                                 labels: [("route", route), ("service", service), ("status_class", status)],
                                 help: Names.requestsHelp)
        }
        self.duration = registry.makeDurationHistogram(
            name: Names.duration, labels: [("route", route), ("service", service)],
            buckets: DataPlaneMetrics.latencyBuckets, help: Names.durationHelp)
        self.upstreamDuration = registry.makeDurationHistogram(
            name: Names.upstreamDuration, labels: [("route", route), ("service", service)],
            buckets: DataPlaneMetrics.latencyBuckets, help: Names.upstreamDurationHelp)
    }

    /// One request: its status (clamped into 1xx…5xx), its total time and, when it reached the upstream, the
    /// upstream's time to the response head.
    @inline(__always)
    func record(status: Int, total: Int64, upstream: Int64?) {
        self.requests[min(4, max(0, status / 100 - 1))].increment()
        self.duration.record(.nanoseconds(total))
        if let upstream { self.upstreamDuration.record(.nanoseconds(upstream)) }
    }
}

/// One upstream connection pool's counters (summed over the event loops).
final class PoolMetrics: Sendable {
    let opened: Counter
    let reused: Counter
    let failed: Counter
    let idle: Gauge

    init(registry: PrometheusCollectorRegistry, pool: String) {
        self.opened = registry.makeCounter(name: Names.poolConnections, labels: [("pool", pool), ("event", "opened")],
                                           help: Names.poolConnectionsHelp)
        self.reused = registry.makeCounter(name: Names.poolConnections, labels: [("pool", pool), ("event", "reused")],
                                           help: Names.poolConnectionsHelp)
        self.failed = registry.makeCounter(name: Names.poolConnections,
                                           labels: [("pool", pool), ("event", "connect_failed")],
                                           help: Names.poolConnectionsHelp)
        self.idle = registry.makeGauge(name: Names.poolIdle, labels: [("pool", pool)], help: Names.poolIdleHelp)
    }
}
