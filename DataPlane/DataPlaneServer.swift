import Foundation
import GatewayModel
package import Hummingbird
package import Logging
package import NIOCore
import NIOSSL
package import ServiceLifecycle

/// A data plane's parts, wired: its state (loaded from the cache when there is one), the cluster client, the
/// proxy listener and the status listener.
package struct DataPlaneServer {
    package let configuration: DataPlaneConfiguration
    package let state: ConfigState
    package let nodeID: String
    package let logger: Logger
    /// The request, pool, auth and configuration series; nil without a registry.
    package let metrics: DataPlaneMetrics?
    /// The per-request access log; nil when off.
    package let accessLog: AccessLog?
    let cache: SnapshotCache
    /// The TLS listener's server context, made before anything starts: an unreadable or invalid certificate or
    /// key is a startup error naming the file.
    let tlsContext: NIOSSLContext?

    package init(configuration: DataPlaneConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        if let tls = configuration.proxyTLS {
            self.tlsContext = try ProxyTLS.serverContext(certificatePath: tls.certificatePath, keyPath: tls.keyPath)
        } else {
            self.tlsContext = nil
        }
        self.cache = SnapshotCache(directory: configuration.cacheDir)
        try self.cache.prepare()
        self.nodeID = try configuration.nodeID ?? self.cache.nodeID()
        let metrics = configuration.metricsRegistry.map {
            DataPlaneMetrics(registry: $0, maxRouteLabels: configuration.metricsMaxRoutes)
        }
        self.metrics = metrics
        self.accessLog = try configuration.accessLog.map {
            try AccessLog(destination: $0, format: configuration.accessLogFormat, metrics: metrics, logger: logger)
        }
        self.state = ConfigState(metrics: metrics)
        metrics?.controlPlane(connected: false)
        self.loadCache()
    }

    /// Serves the cached snapshot until the control plane sends a newer one; an unusable cache is reported and
    /// ignored.
    private func loadCache() {
        let (entry, problem) = self.cache.load()
        if let problem {
            self.state.recordError(problem)
            self.logger.error("snapshot cache unusable", metadata: ["reason": "\(problem)"])
            return
        }
        guard let entry else {
            self.logger.info("no cached snapshot; waiting for the control plane")
            return
        }
        var config: AppliedConfig
        do {
            config = try SnapshotDecoder.decode(
                version: entry.version, hash: entry.hash, size: entry.size, compressed: entry.compressed,
                maxSize: self.configuration.maxConfigSize, source: .cache)
        } catch {
            self.state.recordError("cached snapshot rejected: \(error.description)")
            self.logger.error("cached snapshot rejected", metadata: ["reason": "\(error.description)"])
            return
        }
        // The deltas applied after that snapshot, in order, each only on the configuration it was made for.
        var replayed = 0
        var stale = 0
        for record in self.cache.loadJournal() {
            guard record.baseHash == config.hash else {
                stale += 1
                continue
            }
            do {
                config = try SnapshotDecoder.apply(
                    delta: record.payload, version: record.version, hash: record.hash, baseHash: record.baseHash,
                    maxSize: self.configuration.maxConfigSize, to: config)
                replayed += 1
            } catch {
                self.state.recordError("cached delta \(record.version) rejected: \(error.description)")
                self.logger.error("cached delta rejected; serving the configuration before it", metadata: [
                    "gw.config.version": "\(record.version)", "reason": "\(error.description)",
                ])
                break
            }
        }
        self.state.apply(AppliedConfig(from: config, source: .cache))
        self.logger.info("serving the cached snapshot", metadata: [
            "gw.config.version": "\(config.version)", "gw.config.hash": "\(config.hash)",
            "deltas_replayed": "\(replayed)", "deltas_skipped": "\(stale)",
        ])
    }

    /// The long-running services, in start order.
    package func services(
        onProxyBound: @escaping @Sendable (SocketAddress) -> Void = { _ in },
        onProxyTLSBound: @escaping @Sendable (SocketAddress) -> Void = { _ in },
        onStatusBound: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> [any Service] {
        let client = ClusterClient(configuration: self.configuration, state: self.state, cache: self.cache,
                                   nodeID: self.nodeID, logger: self.logger)
        var tls: ProxyServer.TLSListener?
        if let listener = self.configuration.proxyTLS, let context = self.tlsContext {
            tls = ProxyServer.TLSListener(host: listener.host, port: listener.port, context: context,
                                          onBound: onProxyTLSBound)
        }
        let proxy = ProxyServer(host: self.configuration.proxyHost, port: self.configuration.proxyPort, tls: tls,
                                limits: self.configuration.clientLimits, workers: self.configuration.workers,
                                state: self.state, logger: self.logger, metrics: self.metrics,
                                accessLog: self.accessLog, onBound: onProxyBound)
        let status = Application(
            router: StatusServer.router(state: self.state, nodeID: self.nodeID, metrics: self.metrics),
            configuration: .init(address: .hostname(self.configuration.statusHost, port: self.configuration.statusPort),
                                 serverName: "portcullis"),
            onServerRunning: onStatusBound,
            logger: self.logger)
        // The access log stops last (services stop in reverse order): after the proxy has drained.
        return (self.accessLog.map { [$0] } ?? []) + [status, proxy, client]
    }
}
