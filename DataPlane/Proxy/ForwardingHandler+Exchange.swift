import NIOCore
import NIOHTTP1

extension ForwardingHandler {
    /// One request in flight.
    final class Exchange {
        let service: UpstreamService
        /// Whether the client connection stays open after this exchange.
        var keepAlive: Bool
        let isHead: Bool
        let version: HTTPVersion
        let expectContinue: Bool
        /// Whether the request may be sent twice (nginx never resends POST, PATCH or LOCK once sent).
        let idempotent: Bool
        var attemptsLeft: Int
        /// Parts received before the upstream connection is ready (bounded: reads are held meanwhile).
        var buffered: [HTTPClientRequestPart] = []
        /// What was written on a reused connection, kept until the response starts: a keep-alive connection the
        /// upstream closed just as it was reused fails with nothing received, and the request is resent on a new
        /// one (nginx retries a cached connection's error the same way). nil when not replayable.
        var replay: [HTTPClientRequestPart]?
        var replayBytes = 0
        var connection: UpstreamConnection?
        var requestEnded = false
        var requestSent = false
        var responseStarted = false
        var continueSent = false
        var upstreamKeepAlive = false
        /// The upstream response's status, once its head arrived.
        var status = 0
        var lastRead = NIODeadline.now()
        var writeTimer: Scheduled<Void>?

        init(service: UpstreamService, keepAlive: Bool, version: HTTPVersion, expectContinue: Bool,
             idempotent: Bool, isHead: Bool)
        {
            self.isHead = isHead
            self.service = service
            self.keepAlive = keepAlive
            self.version = version
            self.expectContinue = expectContinue
            self.idempotent = idempotent
            self.attemptsLeft = service.retries
        }

        /// The read timeout is the handler's (``ForwardingHandler/watchReads(until:)``): it ends with the phase.
        func cancelTimers() {
            self.writeTimer?.cancel()
            self.writeTimer = nil
        }
    }
}
