import NIOCore
import Prometheus
import NIOPosix

/// What a leased ``RawUpstream`` reports to the fast-lane exchange using it. Called on the event loop.
protocol RawUpstreamDelegate: AnyObject {
    func upstreamBytes(_ buffer: ByteBuffer)
    func upstreamReadComplete()
    func upstreamWritabilityChanged()
    /// The connection closed (`error` nil: a plain close, which may end a response delimited by it) or failed.
    func upstreamClosed(_ error: (any Error)?)
}

/// A plain-HTTP upstream connection of the fast lane: bytes in and out, no codec. The exchange using it frames the
/// response itself (``HeadScanner/scanResponse(_:maxHeadSize:fields:)``, ``ChunkedFraming``). Reads are held while
/// the exchange's client is not writable.
final class RawUpstream: ChannelDuplexHandler, PooledConnection {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let key: UpstreamPool.Key
    weak var pool: RawUpstreamPool?
    var delegate: (any RawUpstreamDelegate)?
    var requestsServed = 0
    var idleTimer: Scheduled<Void>?
    var idleSince: NIODeadline?
    private var context: ChannelHandlerContext?
    private var readsPaused = false
    private var readPending = false

    init(key: UpstreamPool.Key) {
        self.key = key
    }

    var isActive: Bool { self.context?.channel.isActive ?? false }
    var isWritable: Bool { self.context?.channel.isWritable ?? false }
    var readsArePaused: Bool { self.readsPaused }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func write(_ buffer: ByteBuffer, promise: EventLoopPromise<Void>? = nil) {
        guard let context = self.context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(Self.wrapOutboundOut(buffer), promise: promise)
    }

    func flush() { self.context?.flush() }

    func close() {
        self.delegate = nil
        self.context?.close(promise: nil)
    }

    func pauseReads() { self.readsPaused = true }

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
            // Bytes on an idle connection answer nothing that was asked: it cannot be reused.
            context.close(promise: nil)
            return
        }
        delegate.upstreamBytes(Self.unwrapInboundIn(data))
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
        delegate?.upstreamClosed(nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamClosed(error)
        context.close(promise: nil)
    }
}

/// The fast lane's keep-alive connections to plain-HTTP services of one event loop (``IdleConnections`` bounds),
/// made on that loop. Confined to its event loop.
final class RawUpstreamPool {
    let eventLoop: any EventLoop
    private let idle: IdleConnections<RawUpstream>

    private let metrics: PoolMetrics?

    init(eventLoop: any EventLoop, metrics: PoolMetrics? = nil) {
        self.eventLoop = eventLoop
        self.metrics = metrics
        self.idle = IdleConnections(eventLoop: eventLoop, gauge: metrics?.idle)
    }

    func lease(_ key: UpstreamPool.Key) -> RawUpstream? {
        let connection = self.idle.lease(key)
        if connection != nil { self.metrics?.reused.increment() }
        return connection
    }

    /// Opens a new connection to `service` within its connect timeout; `done` is called on the event loop.
    func connect(_ service: UpstreamService, _ done: @escaping (Result<RawUpstream, any Error>) -> Void) {
        guard let metrics = self.metrics else { return self.open(service, done) }
        self.open(service) { result in
            switch result {
            case .success: metrics.opened.increment()
            case .failure: metrics.failed.increment()
            }
            done(result)
        }
    }

    private func open(_ service: UpstreamService, _ done: @escaping (Result<RawUpstream, any Error>) -> Void) {
        let key = service.poolKey
        let bootstrap = ClientBootstrap(group: self.eventLoop)
            .connectTimeout(service.connectTimeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RawUpstream(key: key))
                }
            }
        let connected: EventLoopFuture<any Channel>
        if let address = service.address {
            connected = bootstrap.connect(to: address)
        } else {
            connected = bootstrap.connect(host: service.host, port: service.port)
        }
        connected.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                do {
                    let connection = try channel.pipeline.syncOperations.handler(type: RawUpstream.self)
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

    /// Takes back a connection whose exchange completed cleanly.
    func release(_ connection: RawUpstream) {
        connection.delegate = nil
        connection.resumeReads()
        self.idle.release(connection)
    }

    func forget(_ connection: RawUpstream) {
        self.idle.forget(connection)
    }
}
