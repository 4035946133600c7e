package import GatewayModel
package import Logging
package import NIOCore
package import NIOHTTP1

/// What the plugins of one request share, from `access` to `log` (Kong's `ngx.ctx` and PDK getters).
///
/// Made once per request, only for requests whose route has plugins; confined to the connection's event loop
/// (not `Sendable`: capture it only in closures run on ``eventLoop``).
package final class PluginContext {
    package let eventLoop: any EventLoop
    /// The connection's logger: plugins log per request at trace/debug only.
    package let logger: Logger
    /// The matched route, as compiled for this snapshot (its entity is ``CompiledRoute/entity``).
    package let route: CompiledRoute
    let service: UpstreamService
    /// The client's address (`$remote_addr`) and whether it is inside the trusted sources (`trusted_ips`).
    package let peerAddress: String
    package let peer: IPAddress?
    package let trustedSource: Bool
    /// The client's method and the path and query it asked for (before the route's path rewriting).
    package let method: HTTPMethod
    package let path: Substring
    package let query: Substring?
    /// The request as it will go upstream: identity headers a client could forge (X-Consumer-*, X-Credential-
    /// Identifier, X-Anonymous-Consumer, X-Client-Cert-*) and hop-by-hop headers already removed, forwarding
    /// headers set. Plugins add verified headers and remove what must not reach the upstream. Framing headers
    /// (`Content-Length`, `Transfer-Encoding`) must be left alone.
    package var request: HTTPRequestHead
    /// Set by an authentication plugin; read by later ones (and by consumer-scoped plugin resolution).
    package private(set) var consumer: Consumer?
    package private(set) var credential: Credential?
    /// How the request ended, for `log`.
    package internal(set) var outcome = Outcome.pending
    /// The status sent to the client, once a response head went out.
    package internal(set) var responseStatus: HTTPResponseStatus?
    /// header-cert-auth's outcome (`ok`, `missing_header`, `verify_failed:expired`, …: a bounded set), for the
    /// metrics and the access log.
    package internal(set) var authOutcome: String?
    /// Whether header-cert-auth's chain verdict came from its cache (nil: no verdict was needed).
    package internal(set) var verdictCached: Bool?

    package var serviceID: String { self.service.id }

    init(eventLoop: any EventLoop, logger: Logger, route: CompiledRoute, service: UpstreamService, peerAddress: String,
         peer: IPAddress?, trustedSource: Bool, method: HTTPMethod, path: Substring, query: Substring?,
         request: HTTPRequestHead)
    {
        self.eventLoop = eventLoop
        self.logger = logger
        self.route = route
        self.service = service
        self.peerAddress = peerAddress
        self.peer = peer
        self.trustedSource = trustedSource
        self.method = method
        self.path = path
        self.query = query
        self.request = request
    }

    /// Records who the request is from (Kong's `kong.client.authenticate`). Consumer-scoped instances of plugins
    /// that run after this one resolve against this consumer.
    package func authenticate(consumer: Consumer?, credential: Credential?) {
        self.consumer = consumer
        self.credential = credential
    }

    /// An identified consumer.
    package struct Consumer: Sendable, Hashable {
        package var id: String
        package var username: String?
        package var customID: String?
        /// The configured `anonymous` consumer of an auth plugin that could not authenticate.
        package var anonymous: Bool

        package init(id: String, username: String? = nil, customID: String? = nil, anonymous: Bool = false) {
            self.id = id
            self.username = username
            self.customID = customID
            self.anonymous = anonymous
        }
    }

    /// The credential that authenticated the consumer.
    package struct Credential: Sendable, Hashable {
        package var id: String?
        /// What `X-Credential-Identifier` carries, when the credential has one.
        package var identifier: String?

        package init(id: String? = nil, identifier: String? = nil) {
            self.id = id
            self.identifier = identifier
        }
    }

    /// How a request ended.
    package enum Outcome: Sendable, Equatable {
        /// Still running.
        case pending
        /// The upstream's response was relayed whole.
        case proxied
        /// A plugin answered in its `access` phase (Kong's exit); `plugin` is its name.
        case exited(plugin: String)
        /// The proxy answered itself (502/504 after an upstream failure, 500 for a plugin error).
        case answered
        /// No complete response: the client went away, or a connection failed after the response head.
        case aborted
    }
}
