import ArgumentParser
import DataPlane
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

struct DataPlaneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data-plane",
        abstract: "Run a data plane: receive snapshots from the control plane, serve the proxy and status ports."
    )

    @Option(help: ArgumentHelp(Environment.help("Unix socket of the control plane", "cluster-socket")))
    var clusterSocket: String = Environment.string("cluster-socket", default: "./.portcullis/cluster.sock")

    @Option(help: ArgumentHelp(Environment.help("Proxy listen address, shared by data planes (SO_REUSEPORT)", "proxy-listen")))
    var proxyListen: String = Environment.string("proxy-listen", default: "0.0.0.0:8000")

    @Option(help: ArgumentHelp(Environment.help("TLS proxy listen address (off when empty); needs --tls-cert and --tls-key", "proxy-tls-listen")))
    var proxyTlsListen: String = Environment.string("proxy-tls-listen", default: "")

    @Option(help: ArgumentHelp(Environment.help("PEM certificate chain of the TLS proxy listener, leaf first", "tls-cert")))
    var tlsCert: String = Environment.string("tls-cert", default: "")

    @Option(help: ArgumentHelp(Environment.help("PEM private key (unencrypted) of the TLS proxy listener", "tls-key")))
    var tlsKey: String = Environment.string("tls-key", default: "")

    @Option(help: ArgumentHelp(Environment.help("Largest request head (URI + header names and values), in bytes; larger: 431", "max-head-size")))
    var maxHeadSize: Int = Environment.int("max-head-size", default: ClientLimits().maxHeadSize)

    @Option(help: ArgumentHelp(Environment.help("Most header fields in a request (trailers included); more: 431", "max-headers")))
    var maxHeaders: Int = Environment.int("max-headers", default: ClientLimits().maxHeaders)

    @Option(help: ArgumentHelp(Environment.help("Longest request URI, in bytes; longer: 414", "max-uri-length")))
    var maxUriLength: Int = Environment.int("max-uri-length", default: ClientLimits().maxURILength)

    @Option(help: ArgumentHelp(Environment.help("Largest request body, in bytes (0: unlimited); larger: 413", "max-body-size")))
    var maxBodySize: Int = Environment.int("max-body-size", default: 0)

    @Option(help: ArgumentHelp(Environment.help("Seconds an idle keep-alive client connection is kept", "client-idle-timeout")))
    var clientIdleTimeout: Double = Environment.double("client-idle-timeout", default: 75)

    @Option(help: ArgumentHelp(Environment.help("Seconds a client has to send a whole request head; then 408", "client-header-timeout")))
    var clientHeaderTimeout: Double = Environment.double("client-header-timeout", default: 60)

    @Option(help: ArgumentHelp(Environment.help("Longest gap in seconds between two reads of a request body; then 408", "client-body-timeout")))
    var clientBodyTimeout: Double = Environment.double("client-body-timeout", default: 60)

    @Option(help: ArgumentHelp(Environment.help("Status listen address (GET /status, /status/ready, /metrics)", "status-listen")))
    var statusListen: String = Environment.string("status-listen", default: "127.0.0.1:8100")

    @Option(help: ArgumentHelp(Environment.help("Directory of the last applied snapshot and the node id", "cache-dir")))
    var cacheDir: String = Environment.string("cache-dir", default: "./.portcullis/data-plane")

    @Option(help: ArgumentHelp(Environment.help("Largest cluster frame accepted, in bytes", "max-frame")))
    var maxFrame: Int = Environment.int("max-frame", default: 256 * 1024 * 1024)

    @Option(help: ArgumentHelp(Environment.help("Largest decoded configuration applied, in bytes (larger ones are rejected)", "max-config-size")))
    var maxConfigSize: Int = Environment.int("max-config-size", default: 1024 * 1024 * 1024)

    @Option(help: ArgumentHelp(Environment.help("Node id reported to the control plane (default: kept in the cache dir)", "node-id")))
    var nodeId: String?

    @Option(help: ArgumentHelp(Environment.help("Event loops serving the proxy port", "workers")))
    var workers: Int = Environment.int("workers", default: System.coreCount)

    @Option(help: ArgumentHelp(Environment.help("Access log: stdout, off, or a file path (appended to)", "access-log")))
    var accessLog: String = Environment.string("access-log", default: "stdout")

    @Option(help: ArgumentHelp(Environment.help("Access log line format: json or logfmt", "access-log-format")))
    var accessLogFormat: String = Environment.string("access-log-format", default: "json")

    @Option(help: ArgumentHelp(Environment.help("Distinct route labels in the request metrics at most; later routes count as route=\"_other\"", "metrics-max-routes")))
    var metricsMaxRoutes: Int = Environment.int("metrics-max-routes", default: 1000)

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard ListenAddress(self.proxyListen) != nil else {
            throw ValidationError("--proxy-listen must be HOST:PORT, got '\(self.proxyListen)'")
        }
        guard ListenAddress(self.statusListen) != nil else {
            throw ValidationError("--status-listen must be HOST:PORT, got '\(self.statusListen)'")
        }
        guard self.maxFrame >= 1024 else { throw ValidationError("--max-frame must be at least 1024") }
        guard self.maxConfigSize >= 128 else { throw ValidationError("--max-config-size must be at least 128") }
        guard (1...256).contains(self.workers) else { throw ValidationError("--workers must be between 1 and 256") }
        if !self.proxyTlsListen.isEmpty {
            guard ListenAddress(self.proxyTlsListen) != nil else {
                throw ValidationError("--proxy-tls-listen must be HOST:PORT, got '\(self.proxyTlsListen)'")
            }
            guard !self.tlsCert.isEmpty, !self.tlsKey.isEmpty else {
                throw ValidationError("--proxy-tls-listen needs --tls-cert and --tls-key")
            }
        }
        guard AccessLog.Format(rawValue: self.accessLogFormat) != nil else {
            throw ValidationError("--access-log-format must be json or logfmt, got '\(self.accessLogFormat)'")
        }
        guard self.metricsMaxRoutes >= 0 else { throw ValidationError("--metrics-max-routes must be 0 or more") }
        guard self.maxHeadSize >= 1024 else { throw ValidationError("--max-head-size must be at least 1024") }
        guard self.maxHeaders >= 1 else { throw ValidationError("--max-headers must be at least 1") }
        guard self.maxUriLength >= 1 else { throw ValidationError("--max-uri-length must be at least 1") }
        guard self.maxBodySize >= 0 else { throw ValidationError("--max-body-size must be 0 (unlimited) or more") }
        for (flag, seconds) in [("--client-idle-timeout", self.clientIdleTimeout),
                                ("--client-header-timeout", self.clientHeaderTimeout),
                                ("--client-body-timeout", self.clientBodyTimeout)]
        where !(seconds > 0 && seconds <= 86400) {
            throw ValidationError("\(flag) must be more than 0 and at most 86400 seconds")
        }
    }

    /// The proxy's client limits from the flags.
    var clientLimits: ClientLimits {
        var limits = ClientLimits()
        limits.maxHeadSize = self.maxHeadSize
        limits.maxHeaders = self.maxHeaders
        limits.maxURILength = self.maxUriLength
        limits.maxBodySize = self.maxBodySize > 0 ? self.maxBodySize : nil
        limits.idleTimeout = .nanoseconds(Int64(self.clientIdleTimeout * 1e9))
        limits.headTimeout = .nanoseconds(Int64(self.clientHeaderTimeout * 1e9))
        limits.bodyTimeout = .nanoseconds(Int64(self.clientBodyTimeout * 1e9))
        return limits
    }

    func run() async throws {
        let logger = self.logging.bootstrap(label: "portcullis.data-plane")
        MemoryRetention.apply()
        guard let proxy = ListenAddress(self.proxyListen), let status = ListenAddress(self.statusListen) else {
            throw ExitCode.validationFailure
        }
        var config = DataPlaneConfiguration()
        config.clusterSocket = self.clusterSocket
        config.proxyHost = proxy.host
        config.proxyPort = proxy.port
        config.statusHost = status.host
        config.statusPort = status.port
        config.cacheDir = self.cacheDir
        config.maxFrame = self.maxFrame
        config.maxConfigSize = self.maxConfigSize
        config.nodeID = self.nodeId ?? Environment.value("node-id")
        config.workers = self.workers
        config.clientLimits = self.clientLimits
        config.metricsRegistry = MetricsBootstrap.registry()
        config.metricsMaxRoutes = self.metricsMaxRoutes
        config.accessLog = AccessLog.destination(self.accessLog)
        config.accessLogFormat = AccessLog.Format(rawValue: self.accessLogFormat) ?? .json
        // A closed stdout must not kill the process: the access log's writer then counts its lines as dropped.
        signal(SIGPIPE, SIG_IGN)
        if let tls = ListenAddress(self.proxyTlsListen) {
            config.proxyTLS = ProxyTLSListener(host: tls.host, port: tls.port, certificatePath: self.tlsCert,
                                               keyPath: self.tlsKey)
        }

        let server: DataPlaneServer
        do {
            server = try DataPlaneServer(configuration: config, logger: logger)
        } catch {
            logger.critical("cannot start the data plane", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
        logger.info("data plane starting", metadata: [
            "node.id": "\(server.nodeID)", "pid": "\(getpid())",
            "access_log": "\(self.accessLog.isEmpty ? "off" : self.accessLog)",
        ])
        let services = server.services(
            onProxyBound: { address in logger.notice("proxy listening on \(ControlPlaneCommand.describe(address))") },
            onProxyTLSBound: { address in
                logger.notice("proxy TLS listening on \(ControlPlaneCommand.describe(address))")
            },
            onStatusBound: { channel in
                let address = channel.localAddress.map(ControlPlaneCommand.describe) ?? "?"
                logger.notice("status listening on \(address)")
            })
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
