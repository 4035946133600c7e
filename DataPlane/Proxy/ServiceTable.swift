import GatewayModel
import NIOCore

/// A service as the proxy forwards to it: every field read, defaulted and converted once per snapshot.
struct UpstreamService: Sendable {
    let id: String
    /// The service's name, or its id without one: its `service` metric label and access log field.
    let label: String
    let enabled: Bool
    /// `http` or `https` (anything else is answered 502 by the forwarding handler).
    let scheme: String
    /// How an `https` service is reached (verification, trust roots, SNI); nil for `http`.
    let tls: UpstreamTLS?
    let host: String
    let port: Int
    let path: String?
    /// The Host header sent when the route does not preserve the client's: Kong's `host[:port]`, the port only
    /// when it is not the scheme's default, IPv6 literals in brackets.
    let hostHeader: String
    /// An IP literal's address, resolved here so a request never goes through a resolver for it.
    let address: SocketAddress?
    let connectTimeout: TimeAmount
    let writeTimeout: TimeAmount
    let readTimeout: TimeAmount
    /// Further connection attempts after a failed connect (Kong's `retries`, default 5).
    let retries: Int
    let poolKey: UpstreamPool.Key

    init(_ entity: JSONObject) {
        self.id = entity["id"]?.stringValue ?? ""
        self.label = entity["name"]?.stringValue ?? self.id
        self.enabled = entity["enabled"]?.boolValue ?? true
        let scheme = entity["protocol"]?.stringValue ?? "http"
        self.scheme = scheme
        let host = entity["host"]?.stringValue ?? ""
        self.host = host
        let defaultPort = scheme == "https" ? 443 : 80
        let port = Int(entity["port"]?.intValue ?? Int64(defaultPort))
        self.port = port
        self.path = entity["path"]?.stringValue
        let bracketed = host.contains(":") ? "[\(host)]" : host
        self.hostHeader = port == defaultPort ? bracketed : "\(bracketed):\(port)"
        self.address = try? SocketAddress(ipAddress: host, port: port)
        let tls = UpstreamTLS(entity, scheme: scheme, host: host, isIPLiteral: self.address != nil)
        self.tls = tls
        // Kong's defaults: 60 s each (milliseconds in the entity).
        self.connectTimeout = .milliseconds(entity["connect_timeout"]?.intValue ?? 60_000)
        self.writeTimeout = .milliseconds(entity["write_timeout"]?.intValue ?? 60_000)
        self.readTimeout = .milliseconds(entity["read_timeout"]?.intValue ?? 60_000)
        self.retries = Int(max(0, entity["retries"]?.intValue ?? 5))
        self.poolKey = UpstreamPool.Key(scheme: scheme, host: host, port: port, tls: tls)
    }
}

/// What the proxy derives from one ``AppliedConfig``: services by id and the trusted source ranges.
///
/// Built once per snapshot, with it, off the event loops (``AppliedConfig/services``); a delta that touches no
/// service or plugin keeps the previous one. Never per request. The plugin chains are ``PluginChains``.
final class ServiceTable: Sendable {
    let services: [String: UpstreamService]
    /// `_trusted_ips`: peers whose X-Forwarded-* and X-Real-IP headers are passed through (Kong's `trusted_ips`).
    let trusted: [CIDR]

    init(content: ConfigContent) {
        var services: [String: UpstreamService] = [:]
        services.reserveCapacity(content["services"].count)
        for entity in content["services"] {
            let service = UpstreamService(entity)
            services[service.id] = service
        }
        self.services = services
        self.trusted = content.trustedIPs.compactMap(CIDR.parse)
    }

    func isTrusted(_ peer: IPAddress?) -> Bool {
        guard let peer, !self.trusted.isEmpty else { return false }
        return self.trusted.contains { $0.contains(peer) }
    }
}
