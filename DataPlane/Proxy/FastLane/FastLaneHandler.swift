import GatewayModel
import Logging
import NIOCore
import NIOHTTP1

/// The proxy's first handler on every client connection: it forwards the common request itself, from the bytes as
/// read, and hands the connection to the full HTTP/1.1 path (``ClientEdgeHandler`` + ``ForwardingHandler`` on
/// NIO's codec) the first time a request needs more. Confined to the connection's event loop.
///
/// The fast lane takes a request when ``HeadScanner`` accepts its head (HTTP/1.1, origin-form, one Host, nothing
/// that needs interpretation), its body has a `Content-Length` of at most ``maxBufferedBody`` and has arrived, and
/// its route has no plugin and a plain `http` service. Then the head is rewritten as the full path does it
/// (hop-by-hop, identity and forwarding fields dropped; `Host`, `X-Real-IP`, `X-Forwarded-*`, `Via` set as in
/// ``ForwardedHeaders/upstreamRequest(_:uri:path:hostHeader:preserveHost:client:)``; every other field line
/// copied verbatim) and written upstream on a pooled raw connection (``RawUpstreamPool``) with the body, in one
/// write. The response head is scanned (``HeadScanner/scanResponse(_:maxHeadSize:fields:)``), rewritten the same way
/// (``ForwardedHeaders/downstreamResponse(_:version:keepAlive:)``) and its body relayed as it arrives, framed by
/// its length, its chunks (``ChunkedFraming``, relayed as they are) or the upstream's close (re-chunked). No
/// `HTTPHeaders`, no per-request handler hops, no per-request timers.
///
/// Everything else — other versions, chunked or large request bodies, `Expect`, upgrades, plugins, `https`
/// services, malformed or oversized heads — goes to the full path with the bytes read so far, once no exchange is
/// in flight; the connection stays there. Answers are the same either way (Kong's 404/502/503/504 bodies, the
/// same retries: connect failures up to `retries`, an idempotent request resent once when a reused connection
/// closes before answering).
///
/// Timeouts, one lazy clock per connection as in ``ClientEdgeHandler``: idle between requests (silent close), a
/// head or buffered body not complete within the head timeout (408, close), the service's read timeout once the
/// request is written (504, or a close once the response started), its write timeout while the upstream takes
/// nothing.
final class FastLaneHandler: ChannelDuplexHandler, RawUpstreamDelegate {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The largest request body the fast lane waits for and sends in one write; larger ones stream on the full
    /// path.
    static let maxBufferedBody = 64 * 1024
    /// Requests larger than this are written with a promise: the upstream connection is reused only once all of
    /// it has gone out. Smaller ones go out at once into an idle connection's empty socket buffer.
    static let confirmedWriteSize = 16 * 1024
    /// The largest upstream response head (Kong's `proxy_buffer_size` is 8 KiB; this is generous).
    static let maxResponseHead = 64 * 1024

    private let state: ConfigState
    private let loop: ProxyLoopContext
    private let limits: ClientLimits
    private let logger: Logger
    /// `http` or `https`: the listener's scheme (X-Forwarded-Proto, the default port of Host matching).
    private let scheme: String
    private let scanner: HeadScanner

    private enum Mode {
        case fast
        /// The full HTTP/1.1 path has the connection: bytes and reads pass through.
        case handedOff
    }

    private enum Phase {
        /// Waiting for (the rest of) a request.
        case idle
        case exchange(Exchange)
        /// A plugin's `access` phase is suspended on a future; the request's bytes were taken already.
        case access(PluginRun)
        /// The connection is being closed: nothing more is read or answered.
        case closing
    }

    private var mode = Mode.fast
    private var phase = Phase.idle
    private var context: ChannelHandlerContext?
    /// Bytes read and not yet taken by a request.
    private var pending = ByteBuffer()
    private var fields: [ScannedField] = []
    private var responseFields: [ScannedField] = []
    private var readPending = false
    private var fresh = true
    private var peer: IPAddress?
    private var peerText = ""
    private var listenPort = 0
    /// ``listenPort`` as X-Forwarded-Port writes it (made once per connection).
    private var listenPortText = "0"
    /// As in ``ForwardingHandler``: the peer's trust under the table it was checked against.
    private var trustedUnder: (table: ServiceTable, trusted: Bool)?

    /// The connection's timeouts (made when the handler is added).
    private var clock: ConnectionClock?
    /// When the first byte of the request being read arrived.
    private var headStarted = NIODeadline.now()
    /// The request being read has its head and waits for the rest of its body (`client_body_timeout` applies: the
    /// longest gap between two reads).
    private var awaitingBody = false
    /// The request in flight's metrics and access log facts (its `X-Request-Id` too).
    private var trace = RequestTrace.none

    init(state: ConfigState, loop: ProxyLoopContext, limits: ClientLimits, logger: Logger, scheme: String) {
        self.state = state
        self.loop = loop
        self.limits = limits
        self.logger = logger
        self.scheme = scheme
        self.scanner = HeadScanner(limits: limits)
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.peerText = context.channel.remoteAddress?.ipAddress ?? ""
        self.peer = IPAddress.parse(self.peerText)
        self.listenPort = context.channel.localAddress?.port ?? 0
        self.listenPortText = String(self.listenPort)
        let clock = ConnectionClock(eventLoop: context.eventLoop,
                                    tick: min(self.limits.idleTimeout, self.limits.headTimeout, self.limits.bodyTimeout))
        clock.expired = { [weak self] in self?.timerFired(context: context) }
        self.clock = clock
        if context.channel.isActive { self.arm(.now() + self.limits.headTimeout) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.stop()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        if case .fast = self.mode, self.clock?.deadline == nil { self.arm(.now() + self.limits.headTimeout) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .fast = self.mode { self.stop() }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard case .fast = self.mode else {
            context.fireErrorCaught(error)
            return
        }
        self.logger.debug("client connection failed", metadata: ["error": "\(error)"])
        self.stop()
        context.close(promise: nil)
    }

    /// The connection is done with: the upstream connection in use is closed (it is mid-exchange), timers stop.
    private func stop() {
        switch self.phase {
        case .exchange(let ex):
            ex.writeTimer?.cancel()
            ex.connection?.close()
            ex.connection = nil
            ex.plugins?.log(.aborted)
            self.loop.record(&self.trace, status: ex.responseStarted ? ex.status : 499, run: ex.plugins,
                             client: self.peerText, lane: "fast", outcome: "aborted")
        case .access(let run):
            run.log(.aborted)
            self.loop.record(&self.trace, status: 499, run: run, client: self.peerText, lane: "fast",
                             outcome: "aborted")
        case .idle, .closing:
            break
        }
        self.phase = .closing
        self.clock?.cancel()
    }

    // MARK: Client bytes

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .fast = self.mode else {
            context.fireChannelRead(data)
            return
        }
        var buffer = Self.unwrapInboundIn(data)
        guard buffer.readableBytes > 0 else { return }
        if self.pending.readableBytes == 0 {
            self.pending = buffer
            if case .idle = self.phase {
                self.headStarted = .now()
                self.arm(self.headStarted + self.limits.headTimeout)
            }
        } else {
            self.pending.writeBuffer(&buffer)
            // Body bytes of a request waiting for the rest of its body: the client made progress.
            if self.awaitingBody { self.arm(.now() + self.limits.bodyTimeout) }
        }
        if case .idle = self.phase { self.drive(context) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard case .fast = self.mode else {
            context.fireChannelReadComplete()
            return
        }
        context.flush()
    }

    func read(context: ChannelHandlerContext) {
        guard case .fast = self.mode else { return context.read() }
        switch self.phase {
        case .idle:
            context.read()
        case .exchange, .access, .closing:
            // A pipelined request waits for the response in flight: nothing more is read meanwhile.
            if self.pending.readableBytes > 0 { self.readPending = true } else { context.read() }
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .fast = self.mode, case .exchange(let ex) = self.phase, let connection = ex.connection {
            if context.channel.isWritable { connection.resumeReads() } else { connection.pauseReads() }
        }
        context.fireChannelWritabilityChanged()
    }

    /// Takes requests from the bytes read while no exchange is in flight.
    private func drive(_ context: ChannelHandlerContext) {
        while case .fast = self.mode, case .idle = self.phase, self.pending.readableBytes > 0 {
            let plan = self.pending.withUnsafeReadableBytes { raw in
                self.plan(raw, allocator: context.channel.allocator, eventLoop: context.eventLoop)
            }
            switch plan {
            case .wait(let body):
                if body, !self.awaitingBody {
                    self.awaitingBody = true
                    self.arm(.now() + self.limits.bodyTimeout)
                }
                return
            case .handOff:
                self.handOff(context)
                return
            case .answer(let status, let body, let keepAlive, let isHead, let consumed):
                self.consume(consumed)
                self.answer(status, body, keepAlive: keepAlive, isHead: isHead, context: context)
                guard keepAlive else { return self.closeAfterFlush(context) }
                if self.pending.readableBytes > 0 { self.headStarted = .now() }
            case .forward(let ex, let consumed):
                self.consume(consumed)
                self.start(ex, context: context)
            case .plugins(let start, let consumed):
                self.consume(consumed)
                self.continueAccess(start, start.run.access(), context: context)
            }
        }
        if case .idle = self.phase, case .fast = self.mode, self.pending.readableBytes == 0 { self.waitForRequest() }
    }

    /// Drops a request's bytes from ``pending`` (and the buffer itself once empty, so its storage can be reused
    /// for the next read).
    private func consume(_ count: Int) {
        self.awaitingBody = false
        self.pending.moveReaderIndex(forwardBy: count)
        if self.pending.readableBytes == 0 { self.pending = ByteBuffer() }
    }

    private enum Plan {
        /// More bytes are needed: of the head, or (`body`) of a body the fast lane takes whole.
        case wait(body: Bool)
        case handOff
        case answer(HTTPResponseStatus, [UInt8], keepAlive: Bool, isHead: Bool, consumed: Int)
        case forward(Exchange, consumed: Int)
        /// The route has plugins: their `access` phase runs first.
        case plugins(PluginStart, consumed: Int)
    }

    /// A request of a route with plugins, waiting for their `access` phase.
    struct PluginStart {
        let run: PluginRun
        let service: UpstreamService
        let keepAlive: Bool
        let isHead: Bool
        let idempotent: Bool
        let body: ByteBuffer?
    }

    /// What to do with the request at the start of `raw`. Pure: no I/O (the bytes are borrowed from ``pending``).
    private func plan(_ raw: UnsafeRawBufferPointer, allocator: ByteBufferAllocator, eventLoop: any EventLoop) -> Plan {
        let head: ScannedRequest
        switch self.scanner.scanRequest(raw, fields: &self.fields) {
        case .incomplete: return .wait(body: false)
        case .handOff: return .handOff
        case .head(let scanned): head = scanned
        }
        if head.contentLength > 0 {
            if let max = self.limits.maxBodySize, head.contentLength > max { return .handOff }
            guard head.contentLength <= Self.maxBufferedBody else { return .handOff }
            guard raw.count - head.length >= head.contentLength else { return .wait(body: true) }
        }
        let consumed = head.length + head.contentLength
        let methodBytes = UnsafeRawBufferPointer(rebasing: raw[head.method])
        let isHead = methodBytes.elementsEqual("HEAD".utf8)
        func local(_ status: HTTPResponseStatus, _ body: [UInt8]) -> Plan {
            .answer(status, body, keepAlive: head.keepAlive, isHead: isHead, consumed: consumed)
        }
        let method = String(decoding: methodBytes, as: UTF8.self)
        let uri = String(decoding: UnsafeRawBufferPointer(rebasing: raw[head.target]), as: UTF8.self)
        let queryStart = uri.utf8.firstIndex(of: UInt8(ascii: "?"))
        let path = uri[..<(queryStart ?? uri.endIndex)]
        guard let config = self.state.config else {
            self.trace = self.loop.trace(started: self.headStarted, inbound: nil, method: method, path: path)
            return local(.serviceUnavailable, ProxyAnswers.noConfiguration)
        }
        let table = self.loop.table(for: config, logger: self.logger)
        let trusted: Bool
        if let known = self.trustedUnder, known.table === table {
            trusted = known.trusted
        } else {
            trusted = table.isTrusted(self.peer)
            self.trustedUnder = (table, trusted)
        }
        self.trace = self.loop.trace(started: self.headStarted, inbound: trusted ? self.inboundRequestID(raw) : nil,
                                     method: method, path: path)
        let host = String(decoding: UnsafeRawBufferPointer(rebasing: raw[head.host]), as: UTF8.self)
        guard let match = config.router.match(
            method: method, host: host, path: path, defaultPort: self.scheme == "https" ? 443 : 80,
            header: { self.values(raw, named: $0) })
        else {
            return local(.notFound, ProxyAnswers.noRoute)
        }
        self.trace.route = match.route
        guard let serviceID = match.route.serviceID, let service = table.services[serviceID] else {
            return local(.serviceUnavailable, ProxyAnswers.noService)
        }
        self.trace.serviceLabel = service.label
        guard service.enabled else { return local(.notFound, ProxyAnswers.noRoute) }
        // Plugins, TLS upstreams and protocols this build refuses are the full path's.
        let chain = config.plugins.chain(route: match.route.id, service: service.id)
        // TLS upstreams, protocols this build refuses and plugins it cannot run are the full path's.
        guard service.scheme == "http", chain.refused.isEmpty else { return .handOff }

        var upstreamURI = match.upstreamPath(servicePath: service.path)
        if let queryStart { upstreamURI += uri[queryStart...] }
        let idempotent = !(methodBytes.elementsEqual("POST".utf8) || methodBytes.elementsEqual("PATCH".utf8)
            || methodBytes.elementsEqual("LOCK".utf8))
        if let plugin = chain.rawAccess, let decision = plugin.rawAccess(RawRequestView(
            raw: raw, fields: self.fields, peer: self.peer, trustedSource: trusted, routeID: match.route.id,
            logger: self.logger))
        {
            // The plugin decided from the fields as read: the request is written as a plain one, with its changes.
            self.trace.auth = RequestTrace.Auth(outcome: decision.outcome, consumer: decision.consumer,
                                                cached: decision.cached)
            var request = allocator.buffer(capacity: head.length + head.contentLength + 512)
            self.writeUpstreamHead(raw, head, method: methodBytes, uri: upstreamURI, path: path, service: service,
                                   preserveHost: match.route.preserveHost, trusted: trusted, into: &request,
                                   removing: decision.remove, adding: decision.add)
            if head.contentLength > 0 {
                request.writeBytes(UnsafeRawBufferPointer(rebasing: raw[head.length..<consumed]))
            }
            let ex = Exchange(service: service, request: request, keepAlive: head.keepAlive, isHead: isHead,
                              idempotent: idempotent, plugins: nil)
            return .forward(ex, consumed: consumed)
        }
        if !chain.isEmpty {
            // Plugins see the request as the full path shows it to them: as `HTTPHeaders`, already rewritten (built
            // straight from the fields read, by the full path's rules). Connection options are the full path's: no
            // field is hop-by-hop for this message only.
            let client = ForwardedHeaders.Client(address: self.peerText, trusted: trusted, listenPort: self.listenPort,
                                                 scheme: self.scheme)
            let clientMethod = HTTPMethod(rawValue: method)
            let (upstreamHead, _) = ForwardedHeaders.upstreamRequest(
                method: clientMethod, fieldCount: self.fields.count, connectionTokens: [], uri: upstreamURI,
                path: path, hostHeader: service.hostHeader, preserveHost: match.route.preserveHost, client: client,
                requestID: self.trace.requestID.string
            ) { field in
                for scanned in self.fields {
                    field(String(decoding: UnsafeRawBufferPointer(rebasing: raw[scanned.name]), as: UTF8.self),
                          String(decoding: UnsafeRawBufferPointer(rebasing: raw[scanned.value]), as: UTF8.self))
                }
            }
            let pluginContext = PluginContext(
                eventLoop: eventLoop, logger: self.logger, route: match.route, service: service,
                peerAddress: self.peerText, peer: self.peer, trustedSource: trusted, method: clientMethod,
                path: path, query: queryStart.map { uri[$0...] }, request: upstreamHead)
            var body: ByteBuffer?
            if head.contentLength > 0 {
                var copy = allocator.buffer(capacity: head.contentLength)
                copy.writeBytes(UnsafeRawBufferPointer(rebasing: raw[head.length..<consumed]))
                body = copy
            }
            let start = PluginStart(run: PluginRun(chain: chain, context: pluginContext), service: service,
                                    keepAlive: head.keepAlive, isHead: isHead, idempotent: idempotent, body: body)
            return .plugins(start, consumed: consumed)
        }
        var request = allocator.buffer(capacity: head.length + head.contentLength + 384)
        self.writeUpstreamHead(raw, head, method: methodBytes, uri: upstreamURI, path: path, service: service,
                               preserveHost: match.route.preserveHost, trusted: trusted, into: &request)
        if head.contentLength > 0 {
            request.writeBytes(UnsafeRawBufferPointer(rebasing: raw[head.length..<consumed]))
        }
        let ex = Exchange(service: service, request: request, keepAlive: head.keepAlive, isHead: isHead,
                          idempotent: idempotent, plugins: nil)
        return .forward(ex, consumed: consumed)
    }

    /// The first `X-Request-Id` of the request, when it may be kept (``RequestID/acceptable(_:)``).
    private func inboundRequestID(_ raw: UnsafeRawBufferPointer) -> String? {
        for field in self.fields where field.kind == .xRequestID {
            let bytes = UnsafeRawBufferPointer(rebasing: raw[field.value])
            return RequestID.acceptable(bytes) ? String(decoding: bytes, as: UTF8.self) : nil
        }
        return nil
    }

    /// The values of the request's fields named `name` (compared case-insensitively), split at commas: what
    /// `HTTPHeaders[canonicalForm:]` gives the full path's router.
    private func values(_ raw: UnsafeRawBufferPointer, named name: String) -> [String] {
        var values: [String] = []
        for field in self.fields where field.name.count == name.utf8.count {
            guard HeadScanner.equalIgnoringCase(raw[field.name], name.utf8) else { continue }
            HeadScanner.forEachToken(raw, field.value) { token in
                values.append(String(decoding: UnsafeRawBufferPointer(rebasing: raw[token]), as: UTF8.self))
            }
        }
        return values
    }

    /// The request head as it goes upstream (the full path's rules, ``ForwardedHeaders``), into `out`.
    private func writeUpstreamHead(_ raw: UnsafeRawBufferPointer, _ head: ScannedRequest,
                                   method: UnsafeRawBufferPointer, uri: String, path: Substring,
                                   service: UpstreamService, preserveHost: Bool, trusted: Bool,
                                   into out: inout ByteBuffer, removing: String? = nil,
                                   adding: [(name: String, value: String)] = [])
    {
        out.writeBytes(method)
        out.writeInteger(HeadScanner.sp)
        out.writeString(uri)
        out.writeStaticString(" HTTP/1.1\r\n")
        var forwardedFor = 0
        var via = 0
        var realIP: Range<Int>?
        var proto: Range<Int>?
        var forwardedHost: Range<Int>?
        var port: Range<Int>?
        var forwardedPath: Range<Int>?
        var prefix: Range<Int>?
        for field in self.fields {
            switch field.kind {
            case .contentLength:
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[field.line]))
            case .other:
                if let removing, field.name.count == removing.utf8.count,
                   HeadScanner.equalIgnoringCase(raw[field.name], removing.utf8)
                {
                    continue
                }
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[field.line]))
            case .xForwardedFor: forwardedFor += 1
            case .via: via += 1
            case .xRealIP: realIP = field.value
            case .xForwardedProto: proto = field.value
            case .xForwardedHost: forwardedHost = field.value
            case .xForwardedPort: port = field.value
            case .xForwardedPath: forwardedPath = field.value
            case .xForwardedPrefix: prefix = field.value
            case .host, .expect, .transferEncoding, .identity, .connection, .hopByHop, .xRequestID: continue
            }
        }
        func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: raw[range]) }
        if !head.hasContentLength,
           method.elementsEqual("POST".utf8) || method.elementsEqual("PUT".utf8) || method.elementsEqual("PATCH".utf8)
        {
            // No framing means no body: say so.
            out.writeStaticString("content-length: 0\r\n")
        }
        out.writeStaticString("host: ")
        if preserveHost { out.writeBytes(bytes(head.host)) } else { out.writeString(service.hostHeader) }
        out.writeStaticString("\r\nx-real-ip: ")
        // nginx's realip module: a trusted peer's X-Real-IP is the client address.
        let remote = trusted ? realIP : nil
        if let remote { out.writeBytes(bytes(remote)) } else { out.writeString(self.peerText) }
        out.writeStaticString("\r\nx-forwarded-for: ")
        if forwardedFor > 0 {
            for field in self.fields where field.kind == .xForwardedFor {
                out.writeBytes(bytes(field.value))
                out.writeStaticString(", ")
            }
        }
        if let remote { out.writeBytes(bytes(remote)) } else { out.writeString(self.peerText) }
        out.writeStaticString("\r\nx-forwarded-proto: ")
        if trusted, let proto { out.writeBytes(bytes(proto)) } else { out.writeString(self.scheme) }
        out.writeStaticString("\r\nx-forwarded-host: ")
        if trusted, let forwardedHost {
            out.writeBytes(bytes(forwardedHost))
        } else {
            Self.writeBareHost(bytes(head.host), into: &out)
        }
        out.writeStaticString("\r\nx-forwarded-port: ")
        if trusted, let port { out.writeBytes(bytes(port)) } else { out.writeString(self.listenPortText) }
        out.writeStaticString("\r\nx-forwarded-path: ")
        if trusted, let forwardedPath { out.writeBytes(bytes(forwardedPath)) } else { out.writeSubstring(path) }
        if trusted, let prefix {
            out.writeStaticString("\r\nx-forwarded-prefix: ")
            out.writeBytes(bytes(prefix))
        }
        out.writeStaticString("\r\nvia: ")
        if via > 0 {
            for field in self.fields where field.kind == .via {
                out.writeBytes(bytes(field.value))
                out.writeStaticString(", ")
            }
        }
        out.writeString(ForwardedHeaders.via)
        out.writeStaticString("\r\nx-request-id: ")
        self.trace.requestID.write(into: &out)
        out.writeStaticString("\r\n")
        for (name, value) in adding {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
    }

    /// nginx's `$host`: the Host value lowercased, without its port (an IPv6 literal keeps its brackets).
    static func writeBareHost(_ host: UnsafeRawBufferPointer, into out: inout ByteBuffer) {
        var end = host.count
        if host.first == UInt8(ascii: "[") {
            if let close = host.firstIndex(of: UInt8(ascii: "]")) { end = close + 1 }
        } else if let colon = host.lastIndex(of: UInt8(ascii: ":")) {
            end = colon
        }
        for byte in host[..<end] { out.writeInteger(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) }
    }

    // MARK: Hand-off

    /// Gives the connection to the full HTTP/1.1 path: its handlers go after this one and get the bytes read so far.
    private func handOff(_ context: ChannelHandlerContext) {
        self.mode = .handedOff
        // The full path counts and logs the request (and makes its id).
        self.trace.recorded = true
        self.clock?.cancel()
        do {
            let pipeline = context.pipeline.syncOperations
            let edge = ClientEdgeHandler(limits: self.limits, logger: self.logger)
            try pipeline.addHandler(ClientEdgeHandler.BytesProbe(edge))
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false,
                withOutboundHeaderValidation: false, withEncoderConfiguration: .init(),
                withDecoderLimitConfiguration: ClientEdgeHandler.decoderLimits(self.limits))
            try pipeline.addHandler(edge)
            try pipeline.addHandler(
                ForwardingHandler(state: self.state, loop: self.loop, logger: self.logger, scheme: self.scheme),
                name: ClientEdgeHandler.forwarderName)
        } catch {
            self.logger.error("could not set up the HTTP/1.1 handlers of a connection", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        let bytes = self.pending
        self.pending = ByteBuffer()
        if bytes.readableBytes > 0 {
            context.fireChannelRead(Self.wrapInboundOut(bytes))
            context.fireChannelReadComplete()
        }
        if self.readPending {
            self.readPending = false
            context.read()
        }
    }

    // MARK: Exchanges

    /// One request in flight on the fast lane.
    final class Exchange {
        let service: UpstreamService
        /// Head and body as sent upstream, kept for a retry on another connection.
        let request: ByteBuffer
        let keepAlive: Bool
        let isHead: Bool
        let idempotent: Bool
        var attemptsLeft: Int
        var connection: RawUpstream?
        var reused = false
        var resent = false
        /// Every byte of the request went out (the connection may be reused after the response).
        var requestWritten = false
        var framing = Framing.head
        /// Response bytes were sent to the client.
        var responseStarted = false
        /// Bytes were read from the upstream for this exchange.
        var answered = false
        var upstreamKeepAlive = false
        /// The response's status, once its head went out.
        var status = 0
        /// Response head bytes so far.
        var received: ByteBuffer?
        var lastRead = NIODeadline.now()
        var writeTimer: Scheduled<Void>?
        /// The route's plugin phases (nil without plugins); `log` runs when the exchange ends.
        let plugins: PluginRun?

        init(service: UpstreamService, request: ByteBuffer, keepAlive: Bool, isHead: Bool, idempotent: Bool,
             plugins: PluginRun?)
        {
            self.plugins = plugins
            self.service = service
            self.request = request
            self.keepAlive = keepAlive
            self.isHead = isHead
            self.idempotent = idempotent
            self.attemptsLeft = service.retries
        }
    }

    enum Framing {
        case head
        case length(Int)
        case chunked(ChunkedFraming)
        /// The upstream's close ends the body; it is relayed in chunks.
        case untilClose
    }

    /// Acts on what the `access` phase decided (as ``ForwardingHandler`` does): forward the request as the plugins
    /// left it, answer, or wait for a suspended plugin (reads are held meanwhile).
    private func continueAccess(_ start: PluginStart, _ step: PluginRun.Step, context: ChannelHandlerContext) {
        let run = start.run
        switch step {
        case .proceed:
            let request = run.context.request
            let invalid = HeaderValidity.invalidFields(request.headers)
            guard invalid.isEmpty, HeaderValidity.isRequestTarget(request.uri) else {
                self.logger.error("a plugin left the upstream request unsendable", metadata: [
                    "gw.route.id": "\(run.context.route.id)", "http.headers.invalid": "\(invalid)",
                ])
                return self.continueAccess(start, .respond(PluginRun.failure), context: context)
            }
            var bytes = context.channel.allocator.buffer(capacity: 1024 + (start.body?.readableBytes ?? 0))
            bytes.writeString(request.method.rawValue)
            bytes.writeInteger(HeadScanner.sp)
            bytes.writeString(request.uri)
            bytes.writeStaticString(" HTTP/1.1\r\n")
            Self.write(request.headers, into: &bytes)
            if var body = start.body { bytes.writeBuffer(&body) }
            let ex = Exchange(service: start.service, request: bytes, keepAlive: start.keepAlive, isHead: start.isHead,
                              idempotent: start.idempotent, plugins: run)
            self.start(ex, context: context)
        case .respond(let response):
            self.phase = .idle
            self.answer(response.status, response.body, keepAlive: start.keepAlive, isHead: start.isHead,
                        plugins: run, context: context)
            if !start.keepAlive { self.closeAfterFlush(context) }
        case .suspended(let future):
            self.phase = .access(run)
            future.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                // The client may have gone meanwhile.
                guard case .access(let current) = self.phase, current === run else { return }
                self.continueAccess(start, run.resume(result), context: context)
                if case .idle = self.phase { self.next(keepAlive: true, context: context) }
            }
        }
    }

    /// `name: value` lines and the blank line that ends a head.
    private static func write(_ headers: HTTPHeaders, into out: inout ByteBuffer) {
        for (name, value) in headers {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
    }

    /// Removes the response fields a plugin made unsendable (logged: a configuration or plugin problem).
    private func dropInvalidHeaders(_ head: inout HTTPResponseHead, _ run: PluginRun) {
        let dropped = HeaderValidity.removeInvalid(&head.headers)
        guard !dropped.isEmpty else { return }
        self.logger.error("response header fields set by a plugin could not be sent: dropped", metadata: [
            "gw.route.id": "\(run.context.route.id)", "http.headers.invalid": "\(dropped)",
        ])
    }

    private func start(_ ex: Exchange, context: ChannelHandlerContext) {
        self.phase = .exchange(ex)
        self.fresh = false
        self.trace.upstreamSent = .now()
        // The connect has its own timeout; the read timeout starts once the request is written.
        self.clock?.stop()
        if let connection = self.loop.rawPool.lease(ex.service.poolKey) {
            self.attach(connection, to: ex, reused: true)
        } else {
            self.connect(ex)
        }
    }

    private func connect(_ ex: Exchange) {
        self.loop.rawPool.connect(ex.service) { result in
            guard case .exchange(let current) = self.phase, current === ex, ex.connection == nil else {
                if case .success(let connection) = result { self.loop.rawPool.release(connection) }
                return
            }
            switch result {
            case .success(let connection):
                self.attach(connection, to: ex, reused: false)
            case .failure(let error):
                if ex.attemptsLeft > 0 {
                    ex.attemptsLeft -= 1
                    self.connect(ex)
                    return
                }
                self.logger.debug("upstream connect failed", metadata: [
                    "gw.upstream.address": "\(ex.service.host):\(ex.service.port)", "error": "\(error)",
                ])
                self.fail(ex, timedOut: ForwardingHandler.isTimeout(error))
            }
        }
    }

    private func attach(_ connection: RawUpstream, to ex: Exchange, reused: Bool) {
        guard let context = self.context else { return connection.close() }
        ex.connection = connection
        ex.reused = reused
        connection.delegate = self
        if !context.channel.isWritable { connection.pauseReads() }
        if ex.request.readableBytes > Self.confirmedWriteSize {
            ex.requestWritten = false
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.assumeIsolated().whenSuccess { ex.requestWritten = true }
            connection.write(ex.request, promise: written)
        } else {
            ex.requestWritten = true
            connection.write(ex.request)
        }
        connection.flush()
        ex.lastRead = .now()
        self.arm(ex.lastRead + ex.service.readTimeout)
        if !connection.isWritable { self.upstreamWritabilityChanged() }
    }

    // MARK: Upstream side

    func upstreamBytes(_ buffer: ByteBuffer) {
        guard case .exchange(let ex) = self.phase, let context = self.context else { return }
        ex.lastRead = .now()
        ex.answered = true
        guard case .head = ex.framing else { return self.relay(buffer, ex, context: context) }
        var buffer = buffer
        if var received = ex.received {
            ex.received = nil
            received.writeBuffer(&buffer)
            buffer = received
        }
        while true {
            let isHead = ex.isHead
            let scanned = buffer.withUnsafeReadableBytes { raw -> (ResponseScan, ByteBuffer?) in
                let scan = HeadScanner.scanResponse(raw, maxHeadSize: Self.maxResponseHead, fields: &self.responseFields)
                guard case .head(let response) = scan, response.status >= 200 else { return (scan, nil) }
                let framing = Self.framing(response, isHead: isHead)
                let keepAlive = ex.keepAlive
                if let run = ex.plugins, run.filtersHeaders {
                    return (scan, self.filteredHead(raw, response, framing: framing, keepAlive: keepAlive, run: run,
                                                    allocator: context.channel.allocator))
                }
                ex.plugins?.responded(HTTPResponseStatus(statusCode: response.status))
                return (scan, self.downstreamHead(raw, response, framing: framing, keepAlive: keepAlive,
                                                  allocator: context.channel.allocator))
            }
            switch scanned {
            case (.incomplete, _):
                ex.received = buffer
                return
            case (.invalid, _):
                self.logger.debug("invalid upstream response", metadata: ["gw.service.id": "\(ex.service.id)"])
                return self.fail(ex, timedOut: false)
            case (.head(let response), nil):
                // Informational: dropped (the proxy sends no `Expect`); `101` was never asked for.
                guard response.status != 101 else { return self.fail(ex, timedOut: false) }
                buffer.moveReaderIndex(forwardBy: response.length)
                if buffer.readableBytes == 0 { return }
            case (.head(let response), let head?):
                buffer.moveReaderIndex(forwardBy: response.length)
                ex.status = response.status
                self.trace.upstreamAnswered = .now()
                ex.responseStarted = true
                ex.upstreamKeepAlive = response.keepAlive
                ex.framing = Self.framing(response, isHead: isHead)
                context.write(Self.wrapOutboundOut(head), promise: nil)
                if case .length(0) = ex.framing {
                    return self.finish(ex, extra: buffer.readableBytes > 0, context: context)
                }
                if buffer.readableBytes > 0 { self.relay(buffer, ex, context: context) }
                return
            }
        }
    }

    /// How the body of `response` is delimited (`.length(0)`: it has none).
    private static func framing(_ response: ScannedResponse, isHead: Bool) -> Framing {
        if isHead || response.status == 204 || response.status == 304 { return .length(0) }
        if response.chunked { return .chunked(ChunkedFraming()) }
        if let length = response.contentLength { return .length(length) }
        return .untilClose
    }

    /// The response head as the client gets it (the full path's rules).
    private func downstreamHead(_ raw: UnsafeRawBufferPointer, _ response: ScannedResponse, framing: Framing,
                                keepAlive: Bool, allocator: ByteBufferAllocator) -> ByteBuffer
    {
        func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: raw[range]) }
        var out = allocator.buffer(capacity: response.length + 96)
        out.writeStaticString("HTTP/1.1 ")
        out.writeBytes(bytes(9..<12))
        out.writeInteger(HeadScanner.sp)
        out.writeBytes(bytes(response.reason))
        out.writeStaticString("\r\n")
        var via = 0
        for field in self.responseFields {
            switch field.kind {
            case .via:
                via += 1
                continue
            case .contentLength where response.chunked:
                continue
            case .connection, .transferEncoding, .hopByHop, .xRequestID:
                continue
            default:
                if response.namesConnectionFields, self.namedByConnection(raw, field.name) { continue }
                out.writeBytes(bytes(field.line.lowerBound..<field.value.upperBound))
                out.writeStaticString("\r\n")
            }
        }
        switch framing {
        case .chunked, .untilClose: out.writeStaticString("transfer-encoding: chunked\r\n")
        case .head, .length: break
        }
        out.writeStaticString("via: ")
        if via > 0 {
            for field in self.responseFields where field.kind == .via {
                out.writeBytes(bytes(field.value))
                out.writeStaticString(", ")
            }
        }
        out.writeString(ForwardedHeaders.via)
        out.writeStaticString("\r\nx-request-id: ")
        self.trace.requestID.write(into: &out)
        out.writeStaticString(keepAlive ? "\r\n\r\n" : "\r\nconnection: close\r\n\r\n")
        return out
    }

    /// The response head for a route with plugins: rewritten as the full path does, then `header_filter`.
    private func filteredHead(_ raw: UnsafeRawBufferPointer, _ response: ScannedResponse, framing: Framing,
                              keepAlive: Bool, run: PluginRun, allocator: ByteBufferAllocator) -> ByteBuffer
    {
        func string(_ range: Range<Int>) -> String {
            String(decoding: UnsafeRawBufferPointer(rebasing: raw[range]), as: UTF8.self)
        }
        var headers = HTTPHeaders()
        headers.reserveCapacity(self.responseFields.count)
        for field in self.responseFields {
            if field.kind == .contentLength, response.chunked { continue }
            headers.add(name: string(field.name), value: string(field.value))
        }
        let upstream = HTTPResponseHead(version: .http1_1,
                                        status: HTTPResponseStatus(statusCode: response.status,
                                                                   reasonPhrase: string(response.reason)),
                                        headers: headers)
        var head = ForwardedHeaders.downstreamResponse(upstream, version: .http1_1, keepAlive: keepAlive,
                                                       requestID: self.trace.requestID.string)
        run.headerFilter(&head)
        self.dropInvalidHeaders(&head, run)
        switch framing {
        case .chunked, .untilClose: head.headers.add(name: "transfer-encoding", value: "chunked")
        case .head, .length: break
        }
        var out = allocator.buffer(capacity: response.length + 256)
        Self.write(head, reason: string(response.reason), into: &out)
        return out
    }

    /// A response head on the wire.
    private static func write(_ head: HTTPResponseHead, reason: String, into out: inout ByteBuffer) {
        out.writeStaticString("HTTP/1.1 ")
        out.writeString(String(head.status.code))
        out.writeInteger(HeadScanner.sp)
        out.writeString(reason)
        out.writeStaticString("\r\n")
        Self.write(head.headers, into: &out)
    }

    /// Whether a `Connection` field of the response names the field called `name`.
    private func namedByConnection(_ raw: UnsafeRawBufferPointer, _ name: Range<Int>) -> Bool {
        var named = false
        for field in self.responseFields where field.kind == .connection {
            HeadScanner.forEachToken(raw, field.value) { token in
                if token.count == name.count, HeadScanner.equalIgnoringCase(raw[token], raw[name]) { named = true }
            }
        }
        return named
    }

    /// Sends body bytes of the response on, up to its end.
    private func relay(_ buffer: ByteBuffer, _ ex: Exchange, context: ChannelHandlerContext) {
        switch ex.framing {
        case .head:
            return
        case .length(let remaining):
            let count = buffer.readableBytes
            if count < remaining {
                ex.framing = .length(remaining - count)
                context.write(Self.wrapOutboundOut(buffer), promise: nil)
                return
            }
            context.write(Self.wrapOutboundOut(count == remaining ? buffer : buffer.getSlice(at: buffer.readerIndex, length: remaining) ?? buffer),
                          promise: nil)
            ex.framing = .length(0)
            self.finish(ex, extra: count > remaining, context: context)
        case .chunked(var framing):
            let used: Int
            do {
                used = try buffer.withUnsafeReadableBytes { raw throws(ChunkedFraming.Failure) in try framing.consume(raw) }
            } catch {
                self.logger.debug("invalid chunked response body", metadata: ["gw.service.id": "\(ex.service.id)"])
                return self.abort(ex, context: context)
            }
            ex.framing = .chunked(framing)
            let count = buffer.readableBytes
            context.write(Self.wrapOutboundOut(used == count ? buffer : buffer.getSlice(at: buffer.readerIndex, length: used) ?? buffer),
                          promise: nil)
            if framing.isDone { self.finish(ex, extra: used < count, context: context) }
        case .untilClose:
            var size = context.channel.allocator.buffer(capacity: 12)
            size.writeString(String(buffer.readableBytes, radix: 16))
            size.writeStaticString("\r\n")
            context.write(Self.wrapOutboundOut(size), promise: nil)
            context.write(Self.wrapOutboundOut(buffer), promise: nil)
            context.write(Self.wrapOutboundOut(Self.crlf), promise: nil)
        }
    }

    private static let crlf = ByteBuffer(string: "\r\n")
    private static let lastChunk = ByteBuffer(string: "0\r\n\r\n")

    func upstreamReadComplete() {
        self.context?.flush()
    }

    func upstreamWritabilityChanged() {
        guard case .exchange(let ex) = self.phase, let connection = ex.connection, let context = self.context else {
            return
        }
        if connection.isWritable {
            ex.writeTimer?.cancel()
            ex.writeTimer = nil
        } else if ex.writeTimer == nil {
            // nginx's proxy_send_timeout: the upstream took nothing for write_timeout.
            ex.writeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: ex.service.writeTimeout) {
                guard case .exchange(let current) = self.phase, current === ex, !current.responseStarted else { return }
                self.logger.debug("upstream write timed out", metadata: ["gw.service.id": "\(ex.service.id)"])
                self.fail(ex, timedOut: true)
            }
        }
    }

    func upstreamClosed(_ error: (any Error)?) {
        guard case .exchange(let ex) = self.phase, let context = self.context else { return }
        ex.connection = nil
        if error == nil, case .untilClose = ex.framing {
            context.write(Self.wrapOutboundOut(Self.lastChunk), promise: nil)
            return self.finish(ex, extra: false, context: context)
        }
        if !ex.answered, ex.reused, ex.idempotent, !ex.resent {
            // A reused connection the upstream closed as it was reused: resend on a new one (not a retry).
            self.logger.debug("reused upstream connection failed; resending", metadata: [
                "gw.service.id": "\(ex.service.id)", "error": "\(error.map { "\($0)" } ?? "closed")",
            ])
            ex.resent = true
            ex.writeTimer?.cancel()
            ex.writeTimer = nil
            self.clock?.stop()
            return self.connect(ex)
        }
        self.logger.debug("upstream connection failed", metadata: [
            "gw.service.id": "\(ex.service.id)", "error": "\(error.map { "\($0)" } ?? "closed")",
        ])
        if ex.responseStarted { return self.abort(ex, context: context) }
        self.fail(ex, timedOut: false)
    }

    // MARK: Endings

    /// The response is complete: the upstream connection goes back to the pool when it can carry another request
    /// (`extra`: the upstream sent bytes past the response, so it cannot), the next request is taken.
    private func finish(_ ex: Exchange, extra: Bool, context: ChannelHandlerContext) {
        ex.writeTimer?.cancel()
        ex.writeTimer = nil
        if let connection = ex.connection {
            ex.connection = nil
            if ex.upstreamKeepAlive, ex.requestWritten, !extra {
                self.loop.rawPool.release(connection)
            } else {
                connection.close()
            }
        }
        // Counted before the last bytes go out: a client that has its response finds it in /metrics.
        self.loop.record(&self.trace, status: ex.status, run: ex.plugins, client: self.peerText, lane: "fast",
                         outcome: "proxied")
        // The connection's read-complete no longer reaches this handler: the response goes out now.
        context.flush()
        ex.plugins?.log(.proxied)
        self.next(keepAlive: ex.keepAlive, context: context)
    }

    /// Closes the connection once what was written has gone out.
    private func closeAfterFlush(_ context: ChannelHandlerContext) {
        self.phase = .closing
        self.clock?.stop()
        context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// After a response: close when the client asked for it, otherwise take the next request.
    private func next(keepAlive: Bool, context: ChannelHandlerContext) {
        guard keepAlive else { return self.closeAfterFlush(context) }
        self.phase = .idle
        if self.pending.readableBytes > 0 {
            self.headStarted = .now()
            self.arm(self.headStarted + self.limits.headTimeout)
            self.drive(context)
        } else {
            self.waitForRequest()
        }
        if case .idle = self.phase, self.readPending {
            self.readPending = false
            context.read()
        }
    }

    /// Kong's 502/504 for an exchange whose response has not started.
    private func fail(_ ex: Exchange, timedOut: Bool) {
        ex.writeTimer?.cancel()
        ex.writeTimer = nil
        if let connection = ex.connection {
            ex.connection = nil
            connection.close()
        }
        guard let context = self.context else { return }
        self.phase = .idle
        let (status, body) = timedOut ? (HTTPResponseStatus.gatewayTimeout, ProxyAnswers.timedOut)
                                      : (HTTPResponseStatus.badGateway, ProxyAnswers.badGateway)
        self.answer(status, body, keepAlive: ex.keepAlive, isHead: ex.isHead, plugins: ex.plugins, context: context)
        self.next(keepAlive: ex.keepAlive, context: context)
    }

    /// The response started and cannot complete: both connections close (the status is already out).
    private func abort(_ ex: Exchange, context: ChannelHandlerContext) {
        ex.connection?.close()
        ex.connection = nil
        self.stop()  // logs the plugins' `.aborted`
        context.flush()
        context.close(promise: nil)
    }

    /// Writes the proxy's own answer (Kong's JSON body); the caller goes on with the next request or the close.
    private func answer(_ status: HTTPResponseStatus, _ body: [UInt8], keepAlive: Bool, isHead: Bool,
                        plugins run: PluginRun? = nil, context: ChannelHandlerContext)
    {
        // A request that never got a head of its own (a timeout) is counted as one.
        if self.trace.recorded {
            self.trace = self.loop.trace(started: self.headStarted, inbound: nil, method: "", path: "")
        }
        // The head is built as the full path builds it (one builder), and with plugins `header_filter` runs on it.
        var head = ProxyAnswers.head(status, bodyLength: body.count, keepAlive: keepAlive, version: .http1_1,
                                     extra: run?.exit?.headers)
        head.headers.add(name: "x-request-id", value: self.trace.requestID.string)
        if let run {
            run.headerFilter(&head)
            self.dropInvalidHeaders(&head, run)
        }
        var out = context.channel.allocator.buffer(capacity: 160 + body.count)
        Self.write(head, reason: status.reasonPhrase, into: &out)
        if !isHead { out.writeBytes(body) }
        self.loop.record(&self.trace, status: Int(head.status.code), run: run, client: self.peerText, lane: "fast",
                         outcome: "local")
        context.write(Self.wrapOutboundOut(out), promise: nil)
        if keepAlive { context.flush() }
        run?.log(run?.exitPlugin.map { .exited(plugin: $0) } ?? .answered)
    }

    // MARK: Clock

    /// Between requests: the idle timeout (the head timeout before the first request).
    private func waitForRequest() {
        self.arm(.now() + (self.fresh ? self.limits.headTimeout : self.limits.idleTimeout))
    }

    private func arm(_ deadline: NIODeadline) {
        self.clock?.arm(deadline)
    }

    private func timerFired(context: ChannelHandlerContext) {
        guard case .fast = self.mode else { return }
        switch self.phase {
        case .idle where self.pending.readableBytes == 0:
            self.logger.debug("idle client connection closed")
            self.stop()
            context.close(promise: nil)
        case .idle:
            self.logger.debug("client request timed out", metadata: [
                "timeout": "\(self.awaitingBody ? self.limits.bodyTimeout : self.limits.headTimeout)",
            ])
            self.answer(.requestTimeout, EdgeAnswers.requestTimeout, keepAlive: false, isHead: false, context: context)
            self.closeAfterFlush(context)
        case .exchange(let ex):
            let now = NIODeadline.now()
            // A response held back by a slow client is not the upstream's delay: the clock restarts.
            if ex.connection?.readsArePaused == true { ex.lastRead = now }
            let due = ex.lastRead + ex.service.readTimeout
            if ex.connection == nil || due > now {
                self.arm(ex.connection == nil ? now + ex.service.readTimeout : due)
            } else {
                self.logger.debug("upstream read timed out", metadata: ["gw.service.id": "\(ex.service.id)"])
                if ex.responseStarted { return self.abort(ex, context: context) }
                self.fail(ex, timedOut: true)
            }
        case .access, .closing:
            break
        }
    }
}
