import GatewayModel
package import Logging
package import NIOCore
import NIOHTTP1
import NIOPosix
package import ServiceLifecycle

/// The proxy listener (`--proxy-listen`), shared between data planes with SO_REUSEPORT.
///
/// Each request is answered from the configuration applied when its head arrived: 503 with a JSON reason while
/// none is applied (never a hang), Kong's 404 when no route matches (``Router``), otherwise it is forwarded to the
/// route's service by a ``ForwardingHandler`` (streaming both ways, keep-alive upstream connections pooled per
/// event loop, Kong's 502/504 answers). HTTPS services are not reached by this build: their requests get 502.
package final class ProxyServer: Service, Sendable {
    private let host: String
    private let port: Int
    private let workers: Int
    private let state: ConfigState
    private let logger: Logger
    private let onBound: @Sendable (SocketAddress) -> Void

    package init(host: String, port: Int, workers: Int, state: ConfigState, logger: Logger,
                 onBound: @escaping @Sendable (SocketAddress) -> Void = { _ in })
    {
        self.host = host
        self.port = port
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
        for loop in group.makeIterator() {
            contexts[ObjectIdentifier(loop)] = try await loop.submit {
                NIOLoopBound(ProxyLoopContext(eventLoop: loop), eventLoop: loop)
            }.get()
        }
        let loops = contexts
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let loop = loops[ObjectIdentifier(channel.eventLoop)]?.value else {
                        throw ChannelError.ioOnClosedChannel
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        ForwardingHandler(state: state, loop: loop, logger: logger))
                }
            }
            .bind(host: self.host, port: self.port)
            .get()
        if let address = channel.localAddress { self.onBound(address) }
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
        try? await group.shutdownGracefully()
    }
}
