import GatewayModel
import Logging
import NIOCore
import NIOHTTP1

/// The client side's limits, timeouts and pipelining (``ClientLimits``), between NIO's HTTP server codec and the
/// ``ForwardingHandler``. Confined to the connection's event loop.
///
/// Pipelining: the forwarder takes one request at a time. A request head that arrives while the previous response
/// is still out is queued here with what follows it, and the connection's reads are held until that response has
/// ended; then the queue is delivered in order. Reads are held only then: a client waiting for its response
/// normally sends nothing, so the socket's read interest is not switched off and on around every request.
/// A malformed pipelined request is answered (400/431) after the responses before it.
///
/// Every refusal is an answer with Kong's JSON body, then the connection is closed; never a crash or a hang:
/// - a head over ``ClientLimits/maxHeadSize`` or with more than ``ClientLimits/maxHeaders`` fields is stopped by
///   NIO's decoder (`HTTPParserError.headerOverflow`, its limits are set from the same values) and answered 431;
///   any other parse error 400;
/// - a URI over ``ClientLimits/maxURILength``: 414, also when it is longer than the whole head limit (the decoder
///   stops it as an overflow; the ``BytesProbe`` measured the request line, so the answer still says which part
///   was too long);
/// - a `Content-Length` over ``ClientLimits/maxBodySize``: 413 before the head goes further, so nothing is sent
///   upstream; a chunked body crossing it is cut there: 413 while the response has not started, otherwise the
///   connection closes (its status is already out). The ``ForwardingHandler`` is removed first, which closes
///   its upstream connection.
///
/// Timeouts, one clock per connection (nginx's names): waiting for the first byte of a request closes the
/// connection silently (`keepalive_timeout`, ``ClientLimits/idleTimeout``; ``ClientLimits/headTimeout`` on a new
/// connection); a head not complete ``ClientLimits/headTimeout`` after its first byte gets 408
/// (`client_header_timeout`); a body with no byte for ``ClientLimits/bodyTimeout`` while the proxy is reading it
/// gets 408, or a close once the response started (`client_body_timeout`). A body the proxy is not reading (its
/// upstream is not taking it) is not the client's delay: that wait is the upstream's write timeout.
/// The clock is lazy: arming it only records a deadline; its one scheduled task (never further away than the
/// shortest of the three timeouts, so a new deadline is never earlier than it) re-arms itself when it fires early.
/// Nothing is scheduled or cancelled per request.
///
/// After an answer the output side is shut and whatever the client still sends is read and dropped for
/// ``ClientLimits/lingerTimeout`` (nginx's lingering close), so the close does not reset the connection before
/// the client has read the answer.
final class ClientEdgeHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The name the ``ForwardingHandler`` is added under: removed when a request is cut off.
    static let forwarderName = "forwarding"

    private enum Request {
        /// Between requests: no byte of the next head yet.
        case idle
        /// Bytes of a head are arriving.
        case head
        /// The head was passed on; its body is arriving.
        case body
        /// Answered here or timed out: everything further is dropped until the connection closes.
        case refused
    }

    fileprivate let limits: ClientLimits
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var request = Request.idle
    /// No request has started on this connection yet.
    private var fresh = true
    /// A request head was passed on and its response has not ended.
    private var exchangeOpen = false
    /// A final response head was written and its end has not been.
    private var responseOpen = false
    private var bodyBytes = 0
    /// A `read()` went towards the socket since the last read completed: the proxy wants the client's bytes.
    private var readRequested = false
    private var lastProgress = NIODeadline.now()
    /// The connection's timeouts (made when the handler is added).
    private var clock: ConnectionClock?
    /// The lingering close's timer.
    private var lingerTimer: Scheduled<Void>?
    /// Pipelined request parts (and a parse error of a pipelined request) waiting for the response in flight to end.
    private var queued = CircularBuffer<Queued>()
    /// Reads asked for while ``queued`` is not empty.
    private var readHeld = false

    private enum Queued {
        case part(HTTPServerRequestPart)
        case error(any Error)
    }

    init(limits: ClientLimits, logger: Logger) {
        self.limits = limits
        self.logger = logger
    }

    /// NIO's decoder limits, set from the same values (a head over them is `headerOverflow`).
    static func decoderLimits(_ limits: ClientLimits) -> NIOHTTPDecoderLimitConfiguration {
        var config = NIOHTTPDecoderLimitConfiguration()
        config.maxHeaderListSize = limits.maxHeadSize
        config.maxHeaderFieldSize = limits.maxHeadSize
        config.maxHeaderFieldCount = limits.maxHeaders
        return config
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let clock = ConnectionClock(
            eventLoop: context.eventLoop,
            tick: min(self.limits.idleTimeout, self.limits.headTimeout, self.limits.bodyTimeout))
        clock.expired = { [weak self] in self?.timerFired(context: context) }
        self.clock = clock
        if context.channel.isActive { self.waitForRequest() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.stopTimers()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        self.waitForRequest()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.stopTimers()
        self.queued.removeAll()
        context.fireChannelInactive()
    }

    // MARK: Inbound

    /// Called by ``BytesProbe`` (before the decoder) for every read carrying bytes.
    ///
    /// - Returns: whether these bytes start a new request head.
    fileprivate func bytesArrived() -> Bool {
        switch self.request {
        case .idle:
            // The previous request has ended: these bytes start the next head.
            self.request = .head
            if !self.exchangeOpen { self.arm(.now() + self.limits.headTimeout) }
            return true
        case .body:
            self.lastProgress = .now()
        case .head, .refused:
            break
        }
        return false
    }

    /// The request line's length so far (``BytesProbe``), while it is being read; nil once its end was seen or when
    /// unknown (a head that did not start a read).
    fileprivate var requestLineLength: Int?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = Self.unwrapInboundIn(data)
        if !self.queued.isEmpty || (self.exchangeOpen && self.request != .body && self.request != .refused) {
            // A pipelined request while a response is out: it waits (and so do further reads).
            if case .refused = self.request { return }
            self.queued.append(.part(part))
            return
        }
        self.process(part, context: context)
    }

    /// Takes one request part through the limits and on to the forwarder.
    private func process(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch (self.request, part) {
        case (.refused, _):
            return
        case (.idle, .head(let head)), (.head, .head(let head)):
            self.fresh = false
            if let (status, body) = self.refusal(head) {
                self.logger.debug("request refused at the edge", metadata: [
                    "http.status": "\(status.code)", "http.uri.length": "\(head.uri.utf8.count)",
                    "http.headers": "\(head.headers.count)",
                ])
                return self.refuse(status, body, context: context)
            }
            self.request = .body
            self.exchangeOpen = true
            self.bodyBytes = 0
            self.lastProgress = .now()
            self.arm(self.lastProgress + self.limits.bodyTimeout)
        case (.body, .body(let buffer)):
            self.bodyBytes += buffer.readableBytes
            if let max = self.limits.maxBodySize, self.bodyBytes > max {
                self.logger.debug("request body over the limit: cut off", metadata: ["max_body_size": "\(max)"])
                return self.refuse(.payloadTooLarge, EdgeAnswers.payloadTooLarge, context: context)
            }
            self.lastProgress = .now()
        case (.body, .end):
            self.request = .idle
            self.cancelTimer()
        default:
            break
        }
        context.fireChannelRead(Self.wrapInboundOut(part))
        if case .idle = self.request { self.waitForRequest() }
    }

    /// Delivers queued pipelined parts up to the next request head that must wait (a response is out again), then
    /// lets reads go on once the queue is empty.
    private func deliverQueued(context: ChannelHandlerContext) {
        while let next = self.queued.first {
            if case .refused = self.request {
                self.queued.removeAll()
                break
            }
            switch next {
            case .part(.head) where self.exchangeOpen:
                return
            case .part(let part):
                self.queued.removeFirst()
                self.process(part, context: context)
            case .error(let error):
                if self.exchangeOpen { return }
                self.queued.removeFirst()
                self.handle(error, context: context)
            }
        }
        if self.readHeld {
            self.readHeld = false
            self.readRequested = true
            context.read()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.readRequested = false
        context.fireChannelReadComplete()
    }

    /// The answer a head gets here, if any.
    private func refusal(_ head: HTTPRequestHead) -> (HTTPResponseStatus, [UInt8])? {
        if head.uri.utf8.count > self.limits.maxURILength { return (.uriTooLong, EdgeAnswers.uriTooLong) }
        if head.headers.count > self.limits.maxHeaders {
            return (.requestHeaderFieldsTooLarge, EdgeAnswers.headerTooLarge)
        }
        if let max = self.limits.maxBodySize {
            // The decoder has already refused malformed or conflicting lengths (and values are trimmed).
            for value in head.headers["content-length"] where (Int(value) ?? 0) > max {
                return (.payloadTooLarge, EdgeAnswers.payloadTooLarge)
            }
        }
        return nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .refused = self.request { return }  // the decoder's complaints about what follows an answer
        if error is HTTPParserError,
           !self.queued.isEmpty || (self.exchangeOpen && self.request != .body)
        {
            // A malformed pipelined request: answered once the responses before it are out.
            self.queued.append(.error(error))
            return
        }
        self.handle(error, context: context)
    }

    private func handle(_ error: any Error, context: ChannelHandlerContext) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        self.logger.debug("client request malformed", metadata: ["error": "\(parserError)"])
        if case .headerOverflow = parserError, let line = self.requestLineLength, line > self.limits.maxURILength {
            // The overflow is the URI itself.
            self.refuse(.uriTooLong, EdgeAnswers.uriTooLong, context: context)
        } else if case .headerOverflow = parserError {
            self.refuse(.requestHeaderFieldsTooLarge, EdgeAnswers.headerTooLarge, context: context)
        } else {
            self.refuse(.badRequest, EdgeAnswers.badRequest, context: context)
        }
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        if !self.queued.isEmpty {
            // Pipelined requests wait: nothing more is read until they have been delivered.
            self.readHeld = true
            return
        }
        // Reads resumed after the proxy held them: the client's clock restarts now.
        if !self.readRequested, case .body = self.request { self.lastProgress = .now() }
        self.readRequested = true
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .refused = self.request {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        switch Self.unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200:
            self.responseOpen = true
        case .end:
            self.responseOpen = false
            self.exchangeOpen = false
            context.write(data, promise: promise)
            switch self.request {
            case .idle: self.waitForRequest()
            // A pipelined head was arriving while this response was out: its time starts now.
            case .head: self.arm(.now() + self.limits.headTimeout)
            case .body, .refused: break
            }
            if !self.queued.isEmpty || self.readHeld { self.deliverQueued(context: context) }
            return
        default:
            break
        }
        context.write(data, promise: promise)
    }

    // MARK: Refusals

    private func refuse(_ status: HTTPResponseStatus, _ body: [UInt8], context: ChannelHandlerContext) {
        let wasBody = self.request == .body
        self.request = .refused
        self.queued.removeAll()
        self.stopTimers()
        if self.exchangeOpen {
            // The request went on: stop it (the forwarder closes its upstream connection when removed).
            context.pipeline.syncOperations.removeHandler(name: Self.forwarderName, promise: nil)
        }
        // A response already started (or already complete, its request still arriving) cannot be replaced.
        guard !self.responseOpen, !(wasBody && !self.exchangeOpen) else {
            context.close(promise: nil)
            return
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Server", value: "portcullis")
        headers.add(name: "Connection", value: "close")
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                      promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))),
                      promise: nil)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { result in
            guard case .success = result else {
                context.close(promise: nil)
                return
            }
            self.linger(context)
        }
    }

    /// Shuts the output and drops what the client still sends until it closes or the linger time is over.
    private func linger(_ context: ChannelHandlerContext) {
        let shut = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: shut)
        shut.futureResult.assumeIsolated().whenFailure { _ in context.close(promise: nil) }
        self.lingerTimer = context.eventLoop.assumeIsolated().scheduleTask(in: self.limits.lingerTimeout) {
            context.close(promise: nil)
        }
    }

    // MARK: Timers

    /// Between requests: the idle (or, before the first request, the head) timeout runs while no response is out.
    private func waitForRequest() {
        guard case .idle = self.request else { return }
        if self.exchangeOpen {
            self.cancelTimer()
        } else {
            self.arm(.now() + (self.fresh ? self.limits.headTimeout : self.limits.idleTimeout))
        }
    }

    private func arm(_ deadline: NIODeadline) {
        self.clock?.arm(deadline)
    }

    /// Stops the clock (its task, if any, finds nothing to do when it fires).
    private func cancelTimer() {
        self.clock?.stop()
    }

    /// Cancels every scheduled task: the connection is done with.
    private func stopTimers() {
        self.clock?.cancel()
        self.lingerTimer?.cancel()
        self.lingerTimer = nil
    }

    private func timerFired(context: ChannelHandlerContext) {
        switch self.request {
        case .idle:
            guard !self.exchangeOpen else { return }
            self.logger.debug("idle client connection closed")
            context.close(promise: nil)
        case .head:
            guard !self.exchangeOpen else { return }
            self.logger.debug("client head timed out", metadata: ["timeout": "\(self.limits.headTimeout)"])
            self.refuse(.requestTimeout, EdgeAnswers.requestTimeout, context: context)
        case .body:
            let now = NIODeadline.now()
            // Reads held back by the proxy (its upstream is not taking the body): the client is not late.
            if !self.readRequested { self.lastProgress = now }
            let due = self.lastProgress + self.limits.bodyTimeout
            if due > now {
                self.arm(due)
            } else {
                self.logger.debug("client body timed out", metadata: ["timeout": "\(self.limits.bodyTimeout)"])
                self.refuse(.requestTimeout, EdgeAnswers.requestTimeout, context: context)
            }
        case .refused:
            break
        }
    }
}

extension ClientEdgeHandler {
    /// Sits before the HTTP decoder and tells the ``ClientEdgeHandler`` when bytes arrive, so a head's time is
    /// counted from its first byte (the decoder says nothing until the head is complete).
    final class BytesProbe: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer

        private weak var edge: ClientEdgeHandler?

        init(_ edge: ClientEdgeHandler) {
            self.edge = edge
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = Self.unwrapInboundIn(data)
            if buffer.readableBytes > 0, let edge = self.edge {
                if edge.bytesArrived() {
                    edge.requestLineLength = 0
                }
                if let length = edge.requestLineLength {
                    // Measured only until the line ends (one scan of the bytes of the request line).
                    let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n"))
                    edge.requestLineLength = newline == nil ? length + buffer.readableBytes : nil
                    if let newline, length + newline - buffer.readerIndex > edge.limits.maxURILength {
                        edge.requestLineLength = length + newline - buffer.readerIndex
                    }
                }
            }
            context.fireChannelRead(data)
        }
    }
}

/// The bodies of the edge's answers: Kong's messages (`kong/error_handlers.lua`; 431 carries the text of nginx's
/// 494 "Request header or cookie too large").
enum EdgeAnswers {
    static let badRequest = JSONWriter.bytes(["message": "Bad request"])
    static let requestTimeout = JSONWriter.bytes(["message": "Request timeout"])
    static let payloadTooLarge = JSONWriter.bytes(["message": "Payload too large"])
    static let uriTooLong = JSONWriter.bytes(["message": "URI too long"])
    static let headerTooLarge = JSONWriter.bytes(["message": "Request header or cookie too large"])
}
