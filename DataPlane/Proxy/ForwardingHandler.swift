import GatewayModel
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// Proxies each request of one client connection to its route's service. Confined to the connection's event loop.
///
/// One request at a time: the ``ClientEdgeHandler`` (before this handler) holds pipelined requests back until the
/// response in flight has ended. The request takes the ``AppliedConfig`` current at its head and keeps it.
///
/// Streaming with backpressure both ways, as a pair of glue handlers: request parts are written upstream as they
/// arrive and this connection's `read()`s are held while the upstream channel is not writable (or not connected
/// yet, when at most one read's parts wait in ``Exchange/buffered``); response parts are written back as they
/// arrive and the upstream connection's reads are held while this channel is not writable.
///
/// Connect failures are retried up to the service's `retries` (nothing was sent); an idempotent request whose
/// reused keep-alive connection closes before answering is resent once on a new connection. Other failures before
/// the response head was sent get Kong's answers: 502 (refused, reset, invalid response), 504 (connect, write or
/// read timeout); after it, both connections are closed (the status is already out).
///
/// Answered locally: 503 without configuration, Kong's 404 without a route, 500 for a route a plugin covers that
/// this build cannot run (an authentication plugin must never be bypassed), 502 for a protocol other than `http`
/// and `https`.
///
/// Plugins (``PluginRun``): after routing, the route's chain runs `access` on the request head as it will go
/// upstream (identity headers already stripped); an early answer is sent like the proxy's own answers (the body
/// is not forwarded, it is drained), a suspended `access` holds the client's reads until its future completes.
/// `header_filter` runs on every response head of the request (upstream's or local), `log` once when it ends.
final class ForwardingHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamDelegate {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Phase {
        case idle
        /// Answered by the proxy itself once the request has been read (its body is discarded).
        case local(HTTPResponseStatus, [UInt8], keepAlive: Bool, version: HTTPVersion, head: Bool)
        case forwarding(Exchange)
        /// A plugin's `access` phase is suspended on a future: request parts wait, client reads are held.
        case access(PendingAccess)
        /// The response is complete before the request: the rest of its body is read and dropped.
        case draining
    }

    private let state: ConfigState
    private let loop: ProxyLoopContext
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var phase = Phase.idle
    /// The plugin phases of the request in flight, when its route has plugins; taken (set to nil) when `log` runs.
    private var plugins: PluginRun?
    private var readPending = false
    private var peer: IPAddress?
    private var peerText = ""
    /// Whether the peer is a trusted source under the service table it was last checked against: the peer does
    /// not change on a connection, so the CIDR scan runs once per connection and snapshot, not per request.
    /// The table is held (not just its identity) so a new table can never be mistaken for it at a reused address.
    private var trustedUnder: (table: ServiceTable, trusted: Bool)?
    private var listenPort = 0
    /// The upstream read timeout's one scheduled task (see ``watchReads(until:)``) and when it fires.
    private var readTimer: Scheduled<Void>?
    private var readTimerAt = NIODeadline.distantFuture
    /// `http` or `https`: the listener's scheme (X-Forwarded-Proto).
    private let scheme: String
    /// The request in flight's metrics and access log facts (its `X-Request-Id` too).
    private var trace = RequestTrace.none

    init(state: ConfigState, loop: ProxyLoopContext, logger: Logger, scheme: String = "http") {
        self.state = state
        self.loop = loop
        self.logger = logger
        self.scheme = scheme
    }

    // MARK: Client side

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.peerText = context.channel.remoteAddress?.ipAddress ?? ""
        self.peer = IPAddress.parse(self.peerText)
        self.listenPort = context.channel.localAddress?.port ?? 0
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.abandon()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.abandon()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.abandon()
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if self.holdReads {
            self.readPending = true
        } else {
            context.read()
        }
    }

    /// Client reads wait while a request body has nowhere to go yet.
    private var holdReads: Bool {
        if case .access = self.phase { return true }
        guard case .forwarding(let ex) = self.phase, !ex.requestEnded else { return false }
        guard let connection = ex.connection else { return true }
        return !connection.isWritable
    }

    private func resumeClientReads() {
        guard self.readPending, !self.holdReads, let context = self.context else { return }
        self.readPending = false
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            self.begin(head, context: context)
        case .body(let buffer):
            switch self.phase {
            case .forwarding(let ex):
                if let connection = ex.connection {
                    self.send(.body(.byteBuffer(buffer)), ex, on: connection)
                } else {
                    ex.buffered.append(.body(.byteBuffer(buffer)))
                }
            case .access(let pending):
                pending.buffered.append(.body(.byteBuffer(buffer)))
            case .idle, .local, .draining:
                break
            }
        case .end(let trailers):
            switch self.phase {
            case .local(let status, let body, let keepAlive, let version, let head):
                self.phase = .idle
                self.respond(status, body, keepAlive: keepAlive, version: version, head: head)
            case .forwarding(let ex):
                ex.requestEnded = true
                if let connection = ex.connection {
                    self.send(.end(trailers), ex, on: connection)
                    connection.flush()
                    self.requestSent(ex)
                } else {
                    ex.buffered.append(.end(trailers))
                }
            case .access(let pending):
                pending.requestEnded = true
                pending.buffered.append(.end(trailers))
            case .draining:
                self.phase = .idle
            case .idle:
                break
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .forwarding(let ex) = self.phase { ex.connection?.flush() }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .forwarding(let ex) = self.phase, let connection = ex.connection {
            if context.channel.isWritable { connection.resumeReads() } else { connection.pauseReads() }
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Request start

    private func begin(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let keepAlive = head.isKeepAlive
        let isHead = head.method == .HEAD
        func local(_ status: HTTPResponseStatus, _ body: [UInt8]) {
            let expect = head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" })
            self.answer(status, body, keepAlive: keepAlive, version: head.version, head: isHead, expectContinue: expect)
        }
        let uri = head.uri
        let queryStart = uri.utf8.firstIndex(of: UInt8(ascii: "?"))
        let path = uri[..<(queryStart ?? uri.endIndex)]
        guard let config = self.state.config else {
            self.trace = self.loop.trace(started: .now(), inbound: nil, method: head.method.rawValue, path: path)
            return local(.serviceUnavailable, ProxyAnswers.noConfiguration)
        }
        let headers = head.headers
        let table = self.loop.table(for: config, logger: self.logger)
        let trusted: Bool
        if let known = self.trustedUnder, known.table === table {
            trusted = known.trusted
        } else {
            trusted = table.isTrusted(self.peer)
            self.trustedUnder = (table, trusted)
        }
        let inbound = trusted ? headers.first(name: "x-request-id").flatMap { RequestID.acceptable($0.utf8) ? $0 : nil }
                              : nil
        self.trace = self.loop.trace(started: .now(), inbound: inbound, method: head.method.rawValue, path: path)
        guard let match = config.router.match(
            method: head.method.rawValue, host: headers.first(name: "host"), path: path,
            defaultPort: self.scheme == "https" ? 443 : 80,
            header: { headers[canonicalForm: $0].map(String.init) })
        else {
            return local(.notFound, ProxyAnswers.noRoute)
        }
        self.trace.route = match.route
        guard let serviceID = match.route.serviceID, let service = table.services[serviceID] else {
            return local(.serviceUnavailable, ProxyAnswers.noService)
        }
        self.trace.serviceLabel = service.label
        // Kong leaves a disabled service's routes out of the router: to the client they do not exist.
        guard service.enabled else { return local(.notFound, ProxyAnswers.noRoute) }
        let chain = config.plugins.chain(route: match.route.id, service: service.id)
        guard chain.refused.isEmpty else {
            // Logged once per snapshot by the loop context; here only at debug.
            self.logger.debug("route needs plugins this build cannot run",
                              metadata: ["gw.route.id": "\(match.route.id)"])
            return local(.internalServerError, ProxyAnswers.unexpected)
        }
        guard service.scheme == "http" || service.scheme == "https" else {
            self.logger.debug("upstream protocol not supported by this build", metadata: [
                "gw.route.id": "\(match.route.id)", "gw.service.id": "\(service.id)",
                "gw.upstream.protocol": "\(service.scheme)",
            ])
            return local(.badGateway, ProxyAnswers.badGateway)
        }

        var upstreamURI = match.upstreamPath(servicePath: service.path)
        if let queryStart { upstreamURI += uri[queryStart...] }
        let client = ForwardedHeaders.Client(address: self.peerText, trusted: trusted,
                                             listenPort: self.listenPort, scheme: self.scheme)
        let (upstreamHead, expectContinue) = ForwardedHeaders.upstreamRequest(
            head, uri: upstreamURI, path: path, hostHeader: service.hostHeader,
            preserveHost: match.route.preserveHost, client: client, requestID: self.trace.requestID.string)
        let idempotent = head.method != .POST && head.method != .PATCH && head.method != .LOCK
        let facts = PendingAccess.Facts(service: service, keepAlive: keepAlive, version: head.version,
                                        expectContinue: expectContinue, idempotent: idempotent, isHead: isHead)
        guard !chain.isEmpty else {
            return self.forward(upstreamHead, facts, buffered: [], requestEnded: false)
        }
        let pluginContext = PluginContext(
            eventLoop: context.eventLoop, logger: self.logger, route: match.route, service: service,
            peerAddress: self.peerText, peer: self.peer, trustedSource: client.trusted, method: head.method, path: path,
            query: queryStart.map { uri[$0...] }, request: upstreamHead)
        let run = PluginRun(chain: chain, context: pluginContext)
        self.plugins = run
        self.continueAccess(run.access(), run, facts, pending: nil)
    }

    /// Acts on what the `access` phase decided: forward, answer, or wait for a suspended plugin.
    private func continueAccess(_ step: PluginRun.Step, _ run: PluginRun, _ facts: PendingAccess.Facts,
                                pending: PendingAccess?)
    {
        switch step {
        case .proceed:
            let request = run.context.request
            let invalid = HeaderValidity.invalidFields(request.headers)
            guard invalid.isEmpty, HeaderValidity.isRequestTarget(request.uri) else {
                // A plugin made the request unsendable (a header value with a line break, say): Kong's answer
                // for a plugin failure, never a request with injected lines.
                self.logger.error("a plugin left the upstream request unsendable", metadata: [
                    "gw.route.id": "\(run.context.route.id)", "http.headers.invalid": "\(invalid)",
                ])
                return self.continueAccess(.respond(PluginRun.failure), run, facts, pending: pending)
            }
            self.forward(request, facts, buffered: pending?.buffered ?? [],
                         requestEnded: pending?.requestEnded ?? false)
        case .respond(let response):
            self.phase = .idle
            if pending?.requestEnded == true {
                self.respond(response.status, response.body, keepAlive: facts.keepAlive, version: facts.version,
                             head: facts.isHead)
            } else {
                // The client may still hold its body back for `100 Continue`: it gets the answer instead.
                self.answer(response.status, response.body, keepAlive: facts.keepAlive, version: facts.version,
                            head: facts.isHead, expectContinue: facts.expectContinue)
            }
            self.resumeClientReads()
        case .suspended(let future):
            guard let context = self.context else { return }
            let waiting = pending ?? PendingAccess(facts)
            self.phase = .access(waiting)
            future.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                // The client may have gone (or the request ended some other way) meanwhile.
                guard case .access(let current) = self.phase, current === waiting, self.plugins === run else { return }
                self.continueAccess(run.resume(result), run, facts, pending: waiting)
            }
        }
    }

    /// Answers the request with the proxy's (or a plugin's) own response once its body has been read, or at once
    /// when the client waits for `100 Continue` (it is then not read and the connection closes after the answer).
    private func answer(_ status: HTTPResponseStatus, _ body: [UInt8], keepAlive: Bool, version: HTTPVersion,
                        head: Bool, expectContinue: Bool)
    {
        if expectContinue {
            // The client holds its body back until told to send it: answer now and do not wait for it.
            self.phase = .draining
            self.respond(status, body, keepAlive: false, version: version, head: head)
            return
        }
        self.phase = .local(status, body, keepAlive: keepAlive, version: version, head: head)
    }

    /// Sends the request upstream: `buffered` holds the parts read while plugins ran.
    private func forward(_ upstreamHead: HTTPRequestHead, _ facts: PendingAccess.Facts,
                         buffered: [HTTPClientRequestPart], requestEnded: Bool)
    {
        let ex = Exchange(service: facts.service, keepAlive: facts.keepAlive, version: facts.version,
                          expectContinue: facts.expectContinue, idempotent: facts.idempotent, isHead: facts.isHead)
        ex.buffered.append(.head(upstreamHead))
        ex.buffered.append(contentsOf: buffered)
        ex.requestEnded = requestEnded
        self.phase = .forwarding(ex)
        self.trace.upstreamSent = .now()
        if let connection = self.loop.pool.lease(facts.service.poolKey) {
            self.attach(connection, to: ex, reused: true)
        } else {
            self.connect(ex)
        }
    }

    private func connect(_ ex: Exchange) {
        self.loop.pool.connect(ex.service) { result in
            guard case .forwarding(let current) = self.phase, current === ex, ex.connection == nil else {
                // The client went away while connecting: keep the connection for someone else.
                if case .success(let connection) = result { self.loop.pool.release(connection) }
                return
            }
            switch result {
            case .success(let connection):
                self.attach(connection, to: ex, reused: false)
            case .failure(let error):
                // Nothing was sent: retrying is safe (Kong's `retries`, nginx's proxy_next_upstream error timeout).
                if ex.attemptsLeft > 0 {
                    ex.attemptsLeft -= 1
                    self.connect(ex)
                    return
                }
                self.logger.debug("upstream connect failed", metadata: [
                    "gw.upstream.address": "\(ex.service.host):\(ex.service.port)", "error": "\(error)",
                ])
                self.fail(ex, timedOut: Self.isTimeout(error))
            }
        }
    }

    private func attach(_ connection: UpstreamConnection, to ex: Exchange, reused: Bool) {
        ex.connection = connection
        connection.delegate = self
        ex.replay = reused && ex.idempotent ? [] : nil
        ex.replayBytes = 0
        if let context = self.context, !context.channel.isWritable { connection.pauseReads() }
        if ex.expectContinue, !ex.continueSent, !ex.requestEnded, let context = self.context {
            // Like nginx, the proxy answers the client's `Expect: 100-continue` once it can take the body.
            context.writeAndFlush(Self.wrapOutboundOut(.head(HTTPResponseHead(version: ex.version, status: .continue))),
                                  promise: nil)
            ex.continueSent = true
        }
        for part in ex.buffered { self.send(part, ex, on: connection) }
        ex.buffered.removeAll()
        connection.flush()
        if ex.requestEnded { self.requestSent(ex) }
        if !connection.isWritable { self.upstreamWritabilityChanged() }
        self.resumeClientReads()
    }

    /// Writes one request part upstream, keeping a copy while the exchange is replayable (up to 64 KiB).
    private func send(_ part: HTTPClientRequestPart, _ ex: Exchange, on connection: UpstreamConnection) {
        connection.write(part)
        guard ex.replay != nil else { return }
        if case .body(.byteBuffer(let buffer)) = part { ex.replayBytes += buffer.readableBytes }
        if ex.replayBytes > 65536 {
            ex.replay = nil
        } else {
            ex.replay?.append(part)
        }
    }

    /// The whole request is written upstream: from now on the read timeout runs (nginx's proxy_read_timeout is
    /// the longest gap between two reads once the request is sent).
    private func requestSent(_ ex: Exchange) {
        ex.requestSent = true
        ex.lastRead = .now()
        self.watchReads(until: ex.lastRead + ex.service.readTimeout)
    }

    /// The read timeout of the exchange in flight, lazily: reads only record their time, and one task per
    /// connection (not per request) checks the exchange current when it fires, re-arming itself for what is left.
    /// It is rescheduled only when a deadline is earlier than the task (a service with a shorter timeout).
    private func watchReads(until deadline: NIODeadline) {
        if self.readTimer != nil {
            if self.readTimerAt <= deadline { return }
            self.readTimer?.cancel()
            self.readTimer = nil
        }
        guard let context = self.context else { return }
        self.readTimerAt = deadline
        self.readTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.readTimer = nil
            guard case .forwarding(let ex) = self.phase, ex.requestSent else { return }
            // A response held back by a slow client is not the upstream's delay: the clock restarts.
            if ex.connection?.readsArePaused == true { ex.lastRead = .now() }
            let due = ex.lastRead + ex.service.readTimeout
            if due > .now() {
                self.watchReads(until: due)
            } else {
                self.logger.debug("upstream read timed out", metadata: ["gw.service.id": "\(ex.service.id)"])
                self.fail(ex, timedOut: true)
            }
        }
    }

    // MARK: Upstream side

    func upstreamRead(_ part: HTTPClientResponsePart) {
        guard case .forwarding(let ex) = self.phase, let context = self.context else { return }
        ex.lastRead = .now()
        switch part {
        case .head(let head):
            ex.responseStarted = true
            ex.replay = nil
            ex.upstreamKeepAlive = head.isKeepAlive
            let code = head.status.code
            ex.status = Int(code)
            self.trace.upstreamAnswered = .now()
            if ex.version.minor == 0, !ex.isHead, code != 204, code != 304, !head.headers.contains(name: "content-length") {
                // An HTTP/1.0 client cannot take chunks: the body is sent raw and its end is the connection's close.
                ex.keepAlive = false
            }
            var response = ForwardedHeaders.downstreamResponse(head, version: ex.version, keepAlive: ex.keepAlive,
                                                               requestID: self.trace.requestID.string)
            if let plugins = self.plugins {
                plugins.headerFilter(&response)
                self.dropInvalidHeaders(&response, plugins)
            }
            context.write(Self.wrapOutboundOut(.head(response)), promise: nil)
        case .body(let buffer):
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            self.finish(ex, trailers: trailers, context: context)
        }
    }

    func upstreamReadComplete() {
        self.context?.flush()
    }

    func upstreamWritabilityChanged() {
        guard case .forwarding(let ex) = self.phase, let connection = ex.connection, let context = self.context else {
            return
        }
        if connection.isWritable {
            ex.writeTimer?.cancel()
            ex.writeTimer = nil
            self.resumeClientReads()
        } else if ex.writeTimer == nil {
            // nginx's proxy_send_timeout: the upstream took nothing for write_timeout.
            ex.writeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: ex.service.writeTimeout) {
                guard case .forwarding(let current) = self.phase, current === ex else { return }
                self.logger.debug("upstream write timed out", metadata: ["gw.service.id": "\(ex.service.id)"])
                self.fail(ex, timedOut: true)
            }
        }
    }

    func upstreamFailed(_ error: (any Error)?) {
        guard case .forwarding(let ex) = self.phase else { return }
        ex.connection = nil
        if !ex.responseStarted, let replay = ex.replay {
            // A reused connection died before answering: resend on a new one (it counts as no retry).
            self.logger.debug("reused upstream connection failed; resending", metadata: [
                "gw.service.id": "\(ex.service.id)", "error": "\(error.map { "\($0)" } ?? "closed")",
            ])
            ex.cancelTimers()
            ex.replay = nil
            ex.buffered = replay + ex.buffered
            ex.requestSent = false
            self.connect(ex)
            return
        }
        self.logger.debug("upstream connection failed", metadata: [
            "gw.service.id": "\(ex.service.id)", "error": "\(error.map { "\($0)" } ?? "closed")",
        ])
        self.fail(ex, timedOut: false)
    }

    // MARK: Endings

    private func finish(_ ex: Exchange, trailers: HTTPHeaders?, context: ChannelHandlerContext) {
        ex.cancelTimers()
        if let connection = ex.connection {
            ex.connection = nil
            if ex.requestSent && ex.upstreamKeepAlive {
                self.loop.pool.release(connection)
            } else {
                connection.close()
            }
        }
        // The phase changes before the end is written: writing it releases the next pipelined request at once.
        self.phase = ex.requestEnded ? .idle : .draining
        let run = self.takePlugins()
        let keepAlive = ex.keepAlive
        // Recorded before the end goes out: writing it may start the next pipelined request at once.
        self.loop.record(&self.trace, status: ex.status, run: run, client: self.peerText, lane: "full",
                         outcome: "proxied")
        context.writeAndFlush(Self.wrapOutboundOut(.end(trailers))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
        run?.log(.proxied)
        self.resumeClientReads()
    }

    /// The exchange cannot complete: Kong's 502/504 when the response has not started, otherwise the client
    /// connection is closed (its status line is already out).
    private func fail(_ ex: Exchange, timedOut: Bool) {
        ex.cancelTimers()
        if let connection = ex.connection {
            ex.connection = nil
            connection.close()
        }
        guard let context = self.context else { return }
        if ex.responseStarted {
            self.phase = .idle
            context.close(promise: nil)
            let run = self.takePlugins()
            run?.log(.aborted)
            self.loop.record(&self.trace, status: ex.status, run: run, client: self.peerText, lane: "full",
                             outcome: "aborted")
            return
        }
        // A client still sending its body is drained, so the connection stays usable; one that waits for
        // `100 Continue` it never got cannot be, and is closed after the answer.
        let keepAlive = ex.keepAlive && !(ex.expectContinue && !ex.requestEnded && !ex.continueSent)
        self.phase = ex.requestEnded ? .idle : .draining
        let (status, body) = timedOut ? (HTTPResponseStatus.gatewayTimeout, ProxyAnswers.timedOut)
                                      : (HTTPResponseStatus.badGateway, ProxyAnswers.badGateway)
        self.respond(status, body, keepAlive: keepAlive, version: ex.version, head: false)
        self.resumeClientReads()
    }

    /// The client connection is gone (or this handler removed): the upstream connection cannot be reused.
    private func abandon() {
        self.readTimer?.cancel()
        self.readTimer = nil
        var status = 499
        if case .forwarding(let ex) = self.phase {
            ex.cancelTimers()
            ex.connection?.close()
            ex.connection = nil
            if ex.responseStarted { status = ex.status }
        }
        self.phase = .idle
        let run = self.takePlugins()
        run?.log(.aborted)
        self.loop.record(&self.trace, status: status, run: run, client: self.peerText, lane: "full", outcome: "aborted")
    }

    /// The request's plugin run, detached from the handler before its response ends (ending it may start the next
    /// pipelined request at once), so its `log` runs exactly once.
    private func takePlugins() -> PluginRun? {
        defer { self.plugins = nil }
        return self.plugins
    }

    private func respond(_ status: HTTPResponseStatus, _ body: [UInt8], keepAlive: Bool, version: HTTPVersion,
                         head: Bool)
    {
        guard let context = self.context else { return }
        let run = self.takePlugins()
        var responseHead = ProxyAnswers.head(status, bodyLength: body.count, keepAlive: keepAlive, version: version,
                                             extra: run?.exit?.headers)
        responseHead.headers.add(name: "x-request-id", value: self.trace.requestID.string)
        if let run {
            run.headerFilter(&responseHead)
            self.dropInvalidHeaders(&responseHead, run)
        }
        self.loop.record(&self.trace, status: Int(responseHead.status.code), run: run, client: self.peerText,
                         lane: "full", outcome: "local")
        context.write(Self.wrapOutboundOut(.head(responseHead)), promise: nil)
        if !head {
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))),
                          promise: nil)
        }
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
        run?.log(run?.exitPlugin.map { .exited(plugin: $0) } ?? .answered)
    }

    /// Removes the response fields a plugin made unsendable (logged: it is a configuration or plugin problem).
    private func dropInvalidHeaders(_ head: inout HTTPResponseHead, _ run: PluginRun) {
        let dropped = HeaderValidity.removeInvalid(&head.headers)
        guard !dropped.isEmpty else { return }
        self.logger.error("response header fields set by a plugin could not be sent: dropped", metadata: [
            "gw.route.id": "\(run.context.route.id)", "http.headers.invalid": "\(dropped)",
        ])
    }

    /// Whether a connect failed by timing out (Kong answers 504 then, 502 otherwise).
    static func isTimeout(_ error: any Error) -> Bool {
        if case ChannelError.connectTimeout = error { return true }
        if let error = error as? NIOConnectionError {
            return error.connectionErrors.contains { if case ChannelError.connectTimeout = $0.error { true } else { false } }
        }
        return false
    }
}
