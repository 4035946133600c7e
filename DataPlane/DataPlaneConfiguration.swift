package import Prometheus

/// Everything `portcullis data-plane` is started with.
package struct DataPlaneConfiguration: Sendable {
    package var clusterSocket: String = "./.portcullis/cluster.sock"
    package var proxyHost: String = "0.0.0.0"
    package var proxyPort: Int = 8000
    /// The TLS proxy listener (`--proxy-tls-listen`), off when nil.
    package var proxyTLS: ProxyTLSListener?
    package var statusHost: String = "127.0.0.1"
    package var statusPort: Int = 8100
    package var cacheDir: String = "./.portcullis/data-plane"
    /// Largest cluster frame accepted (a snapshot frame above it is refused by the control plane, loudly).
    package var maxFrame: Int = 256 * 1024 * 1024
    /// Largest decoded configuration applied (a larger snapshot is NACKed; memory stays bounded).
    package var maxConfigSize: Int = 1024 * 1024 * 1024
    /// A stable id for this data plane; read from (or written to) the cache directory when nil.
    package var nodeID: String?
    /// Event loops serving the proxy port.
    package var workers: Int = System.coreCount
    /// Upper bound of the reconnect backoff while the control plane is unreachable.
    package var maxBackoff: Duration = .seconds(1)
    /// Request size limits and client timeouts of the proxy listeners.
    package var clientLimits = ClientLimits()
    /// Where the data plane's series live (`GET /metrics` on the status listener); nil: no metrics. `main` passes
    /// the registry it bootstrapped swift-metrics with; tests pass their own.
    package var metricsRegistry: PrometheusCollectorRegistry?
    /// Distinct route label values in the request metrics at most (``DataPlaneMetrics/maxRouteLabels``).
    package var metricsMaxRoutes: Int = 1000
    /// The access log (`--access-log`); nil: off.
    package var accessLog: AccessLog.Destination?
    package var accessLogFormat: AccessLog.Format = .json

    package init() {}
}

/// `--proxy-tls-listen HOST:PORT --tls-cert PEM --tls-key PEM`.
package struct ProxyTLSListener: Sendable, Equatable {
    package var host: String
    package var port: Int
    package var certificatePath: String
    package var keyPath: String

    package init(host: String, port: Int, certificatePath: String, keyPath: String) {
        self.host = host
        self.port = port
        self.certificatePath = certificatePath
        self.keyPath = keyPath
    }
}

import NIOCore
