import NIOCore
import Prometheus

/// An upstream connection an ``IdleConnections`` list can keep between requests.
protocol PooledConnection: AnyObject {
    var key: UpstreamPool.Key { get }
    var isActive: Bool { get }
    var requestsServed: Int { get set }
    /// The one task of its idle timeout (see ``IdleConnections``).
    var idleTimer: Scheduled<Void>? { get set }
    /// When the connection went back to the pool; nil while leased.
    var idleSince: NIODeadline? { get set }
    func close()
}

/// The keep-alive connections of one event loop waiting for their next request, per upstream address, with Kong's
/// bounds: at most ``maxIdlePerKey`` per address (`upstream_keepalive_pool_size`), closed after ``idleTimeout``
/// unused (`upstream_keepalive_idle_timeout`) or after ``maxRequests`` requests (`upstream_keepalive_max_requests`).
/// Idle connections the upstream closes leave as soon as the close is seen (``forget(_:)``). Confined to its loop.
final class IdleConnections<Connection: PooledConnection> {
    static var maxIdlePerKey: Int { 512 }
    static var idleTimeout: TimeAmount { .seconds(60) }
    static var maxRequests: Int { 1000 }

    private let eventLoop: any EventLoop
    /// Most recently used last (reused first: its socket is the warmest).
    private var idle: [UpstreamPool.Key: [Connection]] = [:]
    /// `portcullis_dp_upstream_connections_idle` of this kind of pool (summed over the loops).
    private let gauge: Gauge?

    init(eventLoop: any EventLoop, gauge: Gauge? = nil) {
        self.eventLoop = eventLoop
        self.gauge = gauge
    }

    /// An idle connection to `key`, now leased to the caller, or nil.
    func lease(_ key: UpstreamPool.Key) -> Connection? {
        while let connection = self.idle[key]?.popLast() {
            self.gauge?.decrement()
            connection.idleSince = nil
            if connection.isActive { return connection }
        }
        return nil
    }

    /// Takes back a connection whose last exchange completed cleanly; closes it instead when the list for its
    /// address is full or it has served enough requests.
    func release(_ connection: Connection) {
        connection.requestsServed += 1
        guard connection.isActive, connection.requestsServed < Self.maxRequests,
              (self.idle[connection.key]?.count ?? 0) < Self.maxIdlePerKey
        else {
            connection.close()
            return
        }
        self.idle[connection.key, default: []].append(connection)
        self.gauge?.increment()
        let now = NIODeadline.now()
        connection.idleSince = now
        if connection.idleTimer == nil { self.watchIdle(connection, until: now + Self.idleTimeout) }
    }

    /// The idle timeout, lazily: leasing and releasing only record when the connection became idle; the one task
    /// per connection closes it once it has been idle for ``idleTimeout``, re-arms itself for what is left, or
    /// stops while the connection is leased (its next release starts it again). Nothing is scheduled or cancelled
    /// per request.
    private func watchIdle(_ connection: Connection, until deadline: NIODeadline) {
        connection.idleTimer = self.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            [weak self, weak connection] in
            guard let self, let connection else { return }
            connection.idleTimer = nil
            guard let since = connection.idleSince else { return }
            let due = since + Self.idleTimeout
            if due <= .now() {
                connection.close()
            } else {
                self.watchIdle(connection, until: due)
            }
        }
    }

    /// Drops a closed connection from the idle list (no-op when it was leased).
    func forget(_ connection: Connection) {
        connection.idleTimer?.cancel()
        connection.idleTimer = nil
        guard var list = self.idle[connection.key], let i = list.firstIndex(where: { $0 === connection }) else { return }
        list.remove(at: i)
        self.gauge?.decrement()
        self.idle[connection.key] = list.isEmpty ? nil : list
    }
}
