import NIOCore
import Prometheus
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS

/// Keep-alive connections to upstream services for one event loop: connections are made on that loop
/// (`ClientBootstrap(group: eventLoop)`), so a request never hops threads. Confined to its event loop.
///
/// Idle connections are kept by ``IdleConnections`` (Kong's pool bounds). Connections of the fast lane, which
/// speak raw bytes, have their own pool (``RawUpstreamPool``).
///
/// `https` services get a TLS client handler first in the pipeline (``UpstreamTLSContexts``); the key includes
/// the TLS settings, so plain, TLS and differently verified connections to one address never mix. A connection is
/// handed out only once its handshake has completed, and the service's `connect_timeout` bounds the TCP connect and
/// the handshake together (nginx's `proxy_connect_timeout` covers both): a handshake or verification failure is a
/// connect failure (retried, then Kong's 502), an upstream that never finishes its handshake a connect timeout
/// (504), not a request waiting for the read timeout.
final class UpstreamPool {
    struct Key: Hashable, Sendable {
        let scheme: String
        let host: String
        let port: Int
        let tls: UpstreamTLS?
        /// Hashed once: a key is looked up at every lease and release.
        private let hash: Int

        init(scheme: String, host: String, port: Int, tls: UpstreamTLS?) {
            self.scheme = scheme
            self.host = host
            self.port = port
            self.tls = tls
            var hasher = Hasher()
            hasher.combine(scheme)
            hasher.combine(host)
            hasher.combine(port)
            hasher.combine(tls)
            self.hash = hasher.finalize()
        }

        func hash(into hasher: inout Hasher) { hasher.combine(self.hash) }

        static func == (a: Key, b: Key) -> Bool {
            a.hash == b.hash && a.port == b.port && a.scheme == b.scheme && a.host == b.host && a.tls == b.tls
        }
    }

    let eventLoop: any EventLoop
    /// Client TLS contexts of this loop (its CA index is refreshed with each configuration the loop serves).
    let tlsContexts = UpstreamTLSContexts()
    private let idle: IdleConnections<UpstreamConnection>

    private let metrics: PoolMetrics?

    init(eventLoop: any EventLoop, metrics: PoolMetrics? = nil) {
        self.eventLoop = eventLoop
        self.metrics = metrics
        self.idle = IdleConnections(eventLoop: eventLoop, gauge: metrics?.idle)
    }

    /// An idle connection to `key`, now leased to the caller, or nil.
    func lease(_ key: Key) -> UpstreamConnection? {
        let connection = self.idle.lease(key)
        if connection != nil { self.metrics?.reused.increment() }
        return connection
    }

    /// Opens a new connection to `service` with its connect timeout; `done` is called on the event loop.
    func connect(_ service: UpstreamService, _ done: @escaping (Result<UpstreamConnection, any Error>) -> Void) {
        guard let metrics = self.metrics else { return self.open(service, done) }
        self.open(service) { result in
            switch result {
            case .success: metrics.opened.increment()
            case .failure: metrics.failed.increment()
            }
            done(result)
        }
    }

    private func open(_ service: UpstreamService, _ done: @escaping (Result<UpstreamConnection, any Error>) -> Void) {
        let key = service.poolKey
        let tlsContext: NIOSSLContext?
        do {
            tlsContext = try service.tls.map { tls throws(UpstreamTLSContexts.Failure) in try self.tlsContexts.context(for: tls) }
        } catch {
            done(.failure(error))
            return
        }
        let serverName = service.tls?.serverName
        let deadline = NIODeadline.now() + service.connectTimeout
        let bootstrap = ClientBootstrap(group: self.eventLoop)
            .connectTimeout(service.connectTimeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                        try channel.pipeline.syncOperations.addHandler(
                            HandshakeWatcher(promise: channel.eventLoop.makePromise()))
                    }
                    // Informational responses are dropped: the proxy answers `Expect: 100-continue` itself.
                    // Headers are checked where a plugin sets them (``HeaderValidity``); the rest were parsed.
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        leftOverBytesStrategy: .fireError, enableOutboundHeaderValidation: false)
                    try channel.pipeline.syncOperations.addHandler(UpstreamConnection(key: key))
                }
            }
        let connected: EventLoopFuture<any Channel>
        if let address = service.address {
            connected = bootstrap.connect(to: address)
        } else {
            connected = bootstrap.connect(host: service.host, port: service.port)
        }
        let ready = connected.assumeIsolated().flatMap { channel -> EventLoopFuture<any Channel> in
            guard tlsContext != nil, let watcher = try? channel.pipeline.syncOperations.handler(type: HandshakeWatcher.self)
            else { return channel.eventLoop.makeSucceededFuture(channel) }
            let timeout = channel.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
                watcher.fail(ChannelError.connectTimeout(service.connectTimeout))
            }
            return watcher.promise.futureResult.assumeIsolated().map { () -> any Channel in
                timeout.cancel()
                return channel
            }.flatMapErrorThrowing { error in
                timeout.cancel()
                channel.close(promise: nil)
                throw error
            }.nonisolated()
        }
        ready.whenComplete { result in
            switch result {
            case .success(let channel):
                do {
                    let connection = try channel.pipeline.syncOperations.handler(type: UpstreamConnection.self)
                    connection.pool = self
                    done(.success(connection))
                } catch {
                    channel.close(promise: nil)
                    done(.failure(error))
                }
            case .failure(let error):
                done(.failure(error))
            }
        }
    }

    /// Takes back a connection whose last exchange completed cleanly (see ``IdleConnections/release(_:)``).
    func release(_ connection: UpstreamConnection) {
        connection.delegate = nil
        connection.resumeReads()
        self.idle.release(connection)
    }

    /// Drops a closed connection from the idle list (no-op when it was leased).
    func forget(_ connection: UpstreamConnection) {
        self.idle.forget(connection)
    }
}

/// Completes its promise when the TLS handshake of a new upstream connection completes, or fails it when the
/// handshake fails, the connection closes first, or ``fail(_:)`` is called (the connect timeout); once.
final class HandshakeWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    let promise: EventLoopPromise<Void>
    private var done = false

    init(promise: EventLoopPromise<Void>) {
        self.promise = promise
    }

    func fail(_ error: any Error) {
        guard !self.done else { return }
        self.done = true
        self.promise.fail(error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event, !self.done {
            self.done = true
            self.promise.succeed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.fail(ChannelError.eof)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.fail(ChannelError.ioOnClosedChannel)
    }
}

/// What a leased ``UpstreamConnection`` reports to the request using it. Called on the event loop.
protocol UpstreamDelegate: AnyObject {
    func upstreamRead(_ part: HTTPClientResponsePart)
    func upstreamReadComplete()
    func upstreamWritabilityChanged()
    /// The connection closed or failed before the response ended; `error` is nil for a plain close.
    func upstreamFailed(_ error: (any Error)?)
}

/// The last handler of an upstream connection's pipeline (after NIO's HTTP client codec): passes response parts
/// to the request that leased it and holds reads back while that request's client is not writable.
final class UpstreamConnection: ChannelDuplexHandler, RemovableChannelHandler, PooledConnection {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    let key: UpstreamPool.Key
    /// Set once connected; the pool outlives its connections (it belongs to the event loop).
    var pool: UpstreamPool?
    var delegate: (any UpstreamDelegate)?
    var requestsServed = 0
    var idleTimer: Scheduled<Void>?
    /// When the connection went back to the pool; nil while leased.
    var idleSince: NIODeadline?
    private var context: ChannelHandlerContext?
    private var readsPaused = false
    private var readPending = false

    init(key: UpstreamPool.Key) {
        self.key = key
    }

    var isActive: Bool { self.context?.channel.isActive ?? false }
    var isWritable: Bool { self.context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func write(_ part: HTTPClientRequestPart) {
        self.context?.write(Self.wrapOutboundOut(part), promise: nil)
    }

    func flush() { self.context?.flush() }

    func close() {
        self.delegate = nil
        self.context?.close(promise: nil)
    }

    /// Stops reading from the upstream socket (its response is produced faster than the client takes it).
    func pauseReads() { self.readsPaused = true }

    var readsArePaused: Bool { self.readsPaused }

    func resumeReads() {
        self.readsPaused = false
        if self.readPending {
            self.readPending = false
            self.context?.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if self.readsPaused {
            self.readPending = true
        } else {
            context.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let delegate = self.delegate else {
            // Bytes from an idle connection answer nothing we asked: it cannot be reused.
            context.close(promise: nil)
            return
        }
        delegate.upstreamRead(Self.unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.delegate?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.delegate?.upstreamWritabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.pool?.forget(self)
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamFailed(nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamFailed(error)
        context.close(promise: nil)
    }
}
