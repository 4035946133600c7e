import Foundation
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
    let metrics: DataPlaneMetrics?
    let accessLog: AccessLog?
    /// The `X-Request-Id`s this loop makes.
    var requestIDs = RequestIDSource()

    init(eventLoop: any EventLoop, metrics: DataPlaneMetrics? = nil, accessLog: AccessLog? = nil) {
        self.pool = UpstreamPool(eventLoop: eventLoop, metrics: metrics?.fullPathPool)
        self.rawPool = RawUpstreamPool(eventLoop: eventLoop, metrics: metrics?.fastLanePool)
        self.metrics = metrics
        self.accessLog = accessLog
    }

    /// A new request's trace, its `X-Request-Id` kept from `inbound` (a trusted peer's, checked by the caller)
    /// when acceptable.
    func trace(started: NIODeadline, inbound: String?, method: String, path: Substring) -> RequestTrace {
        RequestTrace(started: started, requestID: self.requestIDs.make(inbound: inbound), method: method, path: path)
    }

    /// Counts a request that ended and queues its access log line, once (later calls for the same trace are
    /// ignored). `status` 499: the client went away before a response head.
    func record(_ trace: inout RequestTrace, status: Int, run: PluginRun?, client: String, lane: StaticString,
                outcome: StaticString)
    {
        guard !trace.recorded else { return }
        trace.recorded = true
        guard self.metrics != nil || self.accessLog != nil else { return }
        let total = (NIODeadline.now() - trace.started).nanoseconds
        var upstream: Int64?
        if let sent = trace.upstreamSent, let answered = trace.upstreamAnswered {
            upstream = (answered - sent).nanoseconds
        }
        let context = run?.context
        if let metrics = self.metrics {
            let handles = trace.route.map {
                metrics.routeMetrics($0, serviceLabel: trace.serviceLabel ?? Names.noneLabel)
            } ?? metrics.unmatched
            handles.record(status: status, total: total, upstream: upstream)
            if let context, let auth = context.authOutcome {
                metrics.countAuth(outcome: auth, anonymous: context.consumer?.anonymous == true,
                                  cached: context.verdictCached)
            } else if let auth = trace.auth {
                metrics.countAuth(outcome: auth.outcome, anonymous: auth.consumer?.anonymous == true, cached: auth.cached)
            }
        }
        if let accessLog = self.accessLog {
            accessLog.submit(AccessLogEntry(
                time: Date().timeIntervalSince1970, requestID: trace.requestID, client: client,
                method: trace.method, path: trace.path, status: status, route: trace.route.map { $0.name ?? $0.id },
                service: trace.serviceLabel,
                consumer: (context?.consumer ?? trace.auth?.consumer).map { $0.username ?? $0.id },
                auth: context?.authOutcome ?? trace.auth?.outcome, totalNanos: total, upstreamNanos: upstream, lane: lane, outcome: outcome))
        }
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
