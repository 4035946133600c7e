import Logging
import NIOCore

/// State one event loop's connections share without locks: the upstream pool and the configuration last seen on
/// this loop (to log, once per snapshot, what this build cannot serve: services, plugins). Confined to its event
/// loop.
final class ProxyLoopContext {
    let pool: UpstreamPool
    /// The fast lane's plain-HTTP connections (raw bytes, no codec).
    let rawPool: RawUpstreamPool
    private var config: AppliedConfig?
    private var table: ServiceTable?

    init(eventLoop: any EventLoop) {
        self.pool = UpstreamPool(eventLoop: eventLoop)
        self.rawPool = RawUpstreamPool(eventLoop: eventLoop)
    }

    /// The table compiled with `config`. Holding `config` keeps the identity comparison sound (an ObjectIdentifier
    /// alone could be reused).
    func table(for config: AppliedConfig, logger: Logger) -> ServiceTable {
        if let table = self.table, self.config === config { return table }
        let table = config.services
        // Once per snapshot and loop: the trust roots `https` services name by id.
        self.pool.tlsContexts.caCertificates = UpstreamTLSContexts.caIndex(config.content)
        // Once per snapshot and loop, not per request: which services this build cannot reach.
        for service in table.services.values where service.scheme != "http" && service.scheme != "https" {
            logger.info("service protocol not supported by this build: its requests are answered 502", metadata: [
                "gw.service.id": "\(service.id)", "gw.upstream.protocol": "\(service.scheme)",
                "gw.config.version": "\(config.version)",
            ])
        }
        for problem in config.plugins.problems {
            logger.info("plugin cannot run in this build: requests it applies to are answered 500", metadata: [
                "gw.config.version": "\(config.version)", "gw.plugin.id": "\(problem.pluginID)",
                "gw.plugin.name": "\(problem.name)", "reason": "\(problem.reason)",
            ])
        }
        self.config = config
        self.table = table
        return table
    }
}
