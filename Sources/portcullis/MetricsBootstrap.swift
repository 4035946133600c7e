import Metrics
import Prometheus

/// The process's one metrics registry: swift-metrics is bootstrapped with it (so a library's `Counter` lands in
/// the same `/metrics`), and the control or data plane is handed it explicitly. Called once, from a command's
/// `run()`.
enum MetricsBootstrap {
    static func registry() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }
}
