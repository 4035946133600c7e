import GatewayModel
package import Logging
package import NIOCore
import NIOHTTP1
import NIOPosix
package import NIOSSL
package import ServiceLifecycle

/// The proxy listeners (`--proxy-listen`, and `--proxy-tls-listen` when configured), shared between data planes
/// with SO_REUSEPORT. Both serve the same event loops, pools and answers; on the TLS one X-Forwarded-Proto is
/// `https`. Every connection starts on the ``FastLaneHandler``; a request that needs more gets the full path: a
/// ``ClientEdgeHandler`` (size limits, client timeouts) before a ``ForwardingHandler``.
///
/// Each request is answered from the configuration applied when its head arrived: 503 with a JSON reason while
/// none is applied (never a hang), Kong's 404 when no route matches (``Router``), otherwise it is forwarded to the
/// route's service by a ``ForwardingHandler`` (streaming both ways, keep-alive upstream connections pooled per
/// event loop, Kong's 502/504 answers); `https` services over TLS (``UpstreamTLS``).
package final class ProxyServer: Service, Sendable {
    /// The TLS listener's address and server context (made at startup: a bad certificate or key stops it there).
    package struct TLSListener: Sendable {
        package var host: String
        package var port: Int
        package var context: NIOSSLContext
        package var onBound: @Sendable (SocketAddress) -> Void

        package init(host: String, port: Int, context: NIOSSLContext,
                     onBound: @escaping @Sendable (SocketAddress) -> Void = { _ in })
        {
            self.host = host
            self.port = port
            self.context = context
            self.onBound = onBound
        }
    }

    private let host: String
    private let port: Int
    private let tls: TLSListener?
    private let limits: ClientLimits
    private let workers: Int
    private let state: ConfigState
    private let logger: Logger
    private let metrics: DataPlaneMetrics?
    private let accessLog: AccessLog?
    private let onBound: @Sendable (SocketAddress) -> Void

    package init(host: String, port: Int, tls: TLSListener? = nil, limits: ClientLimits = ClientLimits(),
                 workers: Int, state: ConfigState, logger: Logger, metrics: DataPlaneMetrics? = nil,
                 accessLog: AccessLog? = nil, onBound: @escaping @Sendable (SocketAddress) -> Void = { _ in })
    {
        self.metrics = metrics
        self.accessLog = accessLog
        self.host = host
        self.port = port
        self.tls = tls
        self.limits = limits
        self.workers = workers
        self.state = state
        self.logger = logger
        self.onBound = onBound
    }

    package func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, self.workers))
        let state = self.state
        let logger = self.logger
        // One context (upstream pool, per-snapshot service table) per event loop, made on that loop: connections
        // share it without locks and never hop threads.
        var contexts: [ObjectIdentifier: NIOLoopBound<ProxyLoopContext>] = [:]
        let metrics = self.metrics
        let accessLog = self.accessLog
        for loop in group.makeIterator() {
            contexts[ObjectIdentifier(loop)] = try await loop.submit {
                NIOLoopBound(ProxyLoopContext(eventLoop: loop, metrics: metrics, accessLog: accessLog), eventLoop: loop)
            }.get()
        }
        let loops = contexts
        let limits = self.limits
        func bootstrap(tls: NIOSSLContext?) -> ServerBootstrap {
            ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.backlog, value: 1024)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(ChannelOptions.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
                .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        guard let loop = loops[ObjectIdentifier(channel.eventLoop)]?.value else {
                            throw ChannelError.ioOnClosedChannel
                        }
                        let pipeline = channel.pipeline.syncOperations
                        if let tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
                        // The fast lane forwards the common request from its bytes and installs the full HTTP/1.1
                        // path behind itself the first time a request needs it.
                        try pipeline.addHandler(FastLaneHandler(state: state, loop: loop, limits: limits, logger: logger,
                                                                scheme: tls == nil ? "http" : "https"))
                    }
                }
        }
        let channel = try await bootstrap(tls: nil).bind(host: self.host, port: self.port).get()
        if let address = channel.localAddress { self.onBound(address) }
        var tlsChannel: (any Channel)?
        if let tls = self.tls {
            do {
                let bound = try await bootstrap(tls: tls.context).bind(host: tls.host, port: tls.port).get()
                if let address = bound.localAddress { tls.onBound(address) }
                tlsChannel = bound
            } catch {
                try? await channel.close()
                try? await group.shutdownGracefully()
                throw error
            }
        }
        let listeners = [channel] + (tlsChannel.map { [$0] } ?? [])
        await withGracefulShutdownHandler {
            for listener in listeners { try? await listener.closeFuture.get() }
        } onGracefulShutdown: {
            for listener in listeners { listener.close(promise: nil) }
        }
        try? await group.shutdownGracefully()
    }
}
