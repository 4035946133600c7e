import GatewayModel
package import Logging
package import NIOCore
import NIOHTTP1
import NIOPosix
package import ServiceLifecycle

/// The proxy listener (`--proxy-listen`), shared between data planes with SO_REUSEPORT.
///
/// This build answers from the applied configuration without contacting upstreams yet: 503 with a JSON reason
/// while no configuration is applied (never a hang), Kong's 404 when no route matches (Kong's router, see
/// ``Router``), and 501 naming the matched route otherwise. Forwarding to upstream services comes next.
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
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(ProxyHandler(state: state))
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

/// Answers each request from the configuration current at its start. Confined to its channel's event loop.
final class ProxyHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let state: ConfigState
    private var pending: (status: HTTPResponseStatus, body: [UInt8], keepAlive: Bool, version: HTTPVersion)?

    init(state: ConfigState) {
        self.state = state
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            let (status, body) = self.answer(head)
            self.pending = (status, body, head.isKeepAlive, head.version)
        case .body:
            break
        case .end:
            guard let p = self.pending else { return }
            self.pending = nil
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
            headers.add(name: "Content-Length", value: String(p.body.count))
            headers.add(name: "Server", value: "portcullis")
            if !p.keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: p.version, status: p.status,
                                                                      headers: headers))), promise: nil)
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: p.body)))),
                          promise: nil)
            let keepAlive = p.keepAlive
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { [channel = context.channel] _ in
                if !keepAlive { channel.close(promise: nil) }
            }
        }
    }

    private func answer(_ head: HTTPRequestHead) -> (HTTPResponseStatus, [UInt8]) {
        guard let config = self.state.config else {
            return (.serviceUnavailable, Self.noConfiguration)
        }
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "/"
        let headers = head.headers
        guard let match = config.router.match(method: head.method.rawValue, host: headers.first(name: "host"),
                                              path: path, defaultPort: 80, header: { headers[canonicalForm: $0].map(String.init) })
        else {
            return (.notFound, Self.noRoute)
        }
        let name = match.route.name ?? match.route.id
        return (.notImplemented, JSONWriter.bytes([
            "message": .string("route '\(name)' matched; forwarding to upstream services is not in this build"),
        ]))
    }

    static let noConfiguration = JSONWriter.bytes([
        "message": "no configuration applied yet: this data plane has not reached its control plane and has no cached snapshot",
    ])
    static let noRoute = JSONWriter.bytes(["message": "no Route matched with those values"])
}

