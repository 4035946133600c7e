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

    @Option(help: ArgumentHelp(Environment.help("Status listen address (GET /status, /status/ready)", "status-listen")))
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
    }

    func run() async throws {
        let logger = self.logging.bootstrap(label: "portcullis.data-plane")
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

        let server: DataPlaneServer
        do {
            server = try DataPlaneServer(configuration: config, logger: logger)
        } catch {
            logger.critical("cannot start the data plane", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
        logger.info("data plane starting", metadata: ["node.id": "\(server.nodeID)", "pid": "\(getpid())"])
        let services = server.services(
            onProxyBound: { address in logger.notice("proxy listening on \(ControlPlaneCommand.describe(address))") },
            onStatusBound: { channel in
                let address = channel.localAddress.map(ControlPlaneCommand.describe) ?? "?"
                logger.notice("status listening on \(address)")
            })
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
