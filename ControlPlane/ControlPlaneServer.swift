import Foundation
import GatewayModel
package import Hummingbird
package import Logging
import NIOCore
import Prometheus

/// The control plane's parts, wired: the store, the snapshot builder and the admin API router.
///
/// `main` and the tests build it the same way; tests drive ``router`` without sockets or run
/// ``application(onServerRunning:)`` on port 0.
package struct ControlPlaneServer {
    package let configuration: ControlPlaneConfiguration
    package let store: ConfigStore
    package let builder: SnapshotBuilder
    package let cluster: ClusterServer
    package let router: Router<BasicRequestContext>
    package let logger: Logger
    /// Requests and connections of the admin listener, for `GET /status`.
    package let stats = AdminServerStats()
    /// The control plane's series (`GET /metrics`).
    package let metrics: ControlPlaneMetrics

    package static let version = "0.1.0"

    package init(configuration: ControlPlaneConfiguration, logger: Logger) throws {
        for cidr in configuration.trustedIPs where CIDR.parse(cidr) == nil {
            throw GatewayError.badRequest("--trusted-ips: '\(cidr)' is not an IP address or CIDR block")
        }
        self.configuration = configuration
        self.logger = logger
        let metrics = ControlPlaneMetrics(registry: configuration.metricsRegistry ?? PrometheusCollectorRegistry())
        self.metrics = metrics
        self.store = try ConfigStore(path: configuration.databasePath, trustedIPs: configuration.trustedIPs)
        self.builder = SnapshotBuilder(
            store: self.store, configuration: .init(retention: configuration.snapshotRetention), logger: logger,
            metrics: metrics)
        var clusterConfig = ClusterServer.Configuration(socketPath: configuration.clusterSocket)
        clusterConfig.maxFrame = configuration.clusterMaxFrame
        clusterConfig.heartbeatInterval = configuration.heartbeatInterval
        let registry = DataPlaneRegistry(staleAfter: configuration.heartbeatInterval * 3, metrics: metrics)
        self.cluster = ClusterServer(configuration: clusterConfig, builder: self.builder, registry: registry, logger: logger)
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: AdminRequestCounter(stats: self.stats, metrics: metrics))
        router.add(middleware: AdminErrorMiddleware())
        if let token = configuration.adminToken, !token.isEmpty {
            router.add(middleware: AdminTokenMiddleware(token: token))
        }
        router.add(middleware: ConfigVersionMiddleware(store: self.store))
        let routes = AdminRoutes(router: router)
        for schema in EntityRegistry.all {
            EntityController(store: self.store, schema: schema, bodyLimit: configuration.adminBodyLimit).register(routes)
        }
        ConfigController(store: self.store, builder: self.builder, bodyLimit: configuration.adminBodyLimit)
            .register(routes)
        SnapshotsController(store: self.store, builder: self.builder).register(routes)
        ClusteringController(builder: self.builder, registry: registry).register(routes)
        let node = StatusController.NodeInfo(
            id: UUIDString.v5("node:\(ProcessInfo.processInfo.hostName):\(configuration.databasePath)"),
            hostname: ProcessInfo.processInfo.hostName,
            version: Self.version,
            configuration: [
                "role": "control_plane",
                "database": "sqlite",
                "prefix": .string(configuration.databasePath),
                "admin_listen": .array([.string("\(configuration.adminHost):\(configuration.adminPort)")]),
                "cluster_socket": .string(configuration.clusterSocket),
                "trusted_ips": .array(configuration.trustedIPs.map(JSON.string)),
                "snapshot_retention": .int(Int64(configuration.snapshotRetention)),
                "admin_token_required": .bool(configuration.adminToken?.isEmpty == false),
            ])
        StatusController(store: self.store, builder: self.builder, node: node, stats: self.stats, metrics: metrics)
            .register(routes)
        self.router = router
    }

    /// The admin HTTP server, the snapshot builder and the cluster socket, as one Hummingbird application.
    package func application(
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let stats = self.stats
        return Application(
            router: self.router,
            server: .http1(configuration: .init(additionalChannelHandlers: [stats.connectionHandler()])),
            configuration: .init(address: .hostname(self.configuration.adminHost, port: self.configuration.adminPort),
                                 serverName: "portcullis"),
            services: [self.builder, self.cluster],
            onServerRunning: onServerRunning,
            logger: self.logger
        )
    }
}
