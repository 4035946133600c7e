import GatewayModel
import Hummingbird
import NIOCore
import Synchronization

/// The admin listener's counters since start, for Kong's `server` block of `GET /status`: requests answered and
/// connections accepted and open. Connections are counted by a handler in each connection's pipeline (added when
/// the connection is set up, removed when it closes), requests by a router middleware.
package final class AdminServerStats: Sendable {
    private struct Counts {
        var requests: Int64 = 0
        var accepted: Int64 = 0
        var active: Int64 = 0
    }

    private let counts = Mutex(Counts())

    package init() {}

    func requestStarted() { self.counts.withLock { $0.requests += 1 } }
    func connectionOpened() {
        self.counts.withLock {
            $0.accepted += 1
            $0.active += 1
        }
    }
    func connectionClosed() { self.counts.withLock { $0.active -= 1 } }

    /// Kong's field names; every accepted connection is handled (nginx counts the difference as refusals).
    var json: JSON {
        let c = self.counts.withLock { $0 }
        return [
            "total_requests": .int(c.requests),
            "connections_accepted": .int(c.accepted),
            "connections_handled": .int(c.accepted),
            "connections_active": .int(c.active),
        ]
    }

    /// A pass-through handler for one connection's pipeline.
    func connectionHandler() -> ConnectionCounter { ConnectionCounter(stats: self) }

    final class ConnectionCounter: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny
        let stats: AdminServerStats
        private var counted = false

        init(stats: AdminServerStats) { self.stats = stats }

        func handlerAdded(context: ChannelHandlerContext) {
            self.counted = true
            self.stats.connectionOpened()
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            guard self.counted else { return }
            self.counted = false
            self.stats.connectionClosed()
        }
    }
}

/// Counts every admin request (answered or refused) for ``AdminServerStats`` and, with its status class and
/// time, for ``ControlPlaneMetrics``.
struct AdminRequestCounter<Context: RequestContext>: RouterMiddleware {
    let stats: AdminServerStats
    let metrics: ControlPlaneMetrics?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        self.stats.requestStarted()
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            self.metrics?.adminRequest(method: request.method.rawValue, status: response.status.code,
                                       duration: ContinuousClock.now - started)
            return response
        } catch {
            // Errors become answers further in (AdminErrorMiddleware); one that gets here is Hummingbird's.
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            self.metrics?.adminRequest(method: request.method.rawValue, status: status,
                                       duration: ContinuousClock.now - started)
            throw error
        }
    }
}
