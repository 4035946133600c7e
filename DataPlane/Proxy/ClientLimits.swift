package import NIOCore

/// What one client connection of the proxy may send and how long it may take, checked by ``ClientEdgeHandler``.
///
/// Defaults, and why:
/// - ``maxHeadSize`` 64 KiB: the request line's URI plus every header name and value (as NIO's decoder counts
///   them, separators excluded). An AWS ALB forwards heads up to 64 KiB and adds a URL-encoded client certificate
///   chain (`X-Amzn-Mtls-Clientcert`, ~17 KiB for a 16 KiB PEM chain) to them; nginx (Kong) allows 4 × 8 KiB.
/// - ``maxHeaders`` 256 (trailers included): nginx has no count limit, Envoy refuses above 100; 256 is generous
///   for real clients and still bounds the per-request work.
/// - ``maxURILength`` 16 KiB: ALB's request-line limit, so whatever an ALB forwards is accepted (nginx: 8 KiB).
/// - ``maxBodySize`` unlimited: Kong's `client_max_body_size 0`; bodies stream, so no memory depends on it.
/// - ``idleTimeout`` 75 s: nginx's `keepalive_timeout` default, above the ALB's 60 s idle timeout so that the load
///   balancer, not the proxy, closes idle keep-alive connections (the other order races a reused connection and
///   the ALB answers 502).
/// - ``headTimeout`` / ``bodyTimeout`` 60 s: nginx's `client_header_timeout` (whole head) and
///   `client_body_timeout` (longest gap between two body reads).
package struct ClientLimits: Sendable, Equatable {
    package var maxHeadSize: Int = 64 * 1024
    package var maxHeaders: Int = 256
    package var maxURILength: Int = 16 * 1024
    /// nil: unlimited.
    package var maxBodySize: Int?
    package var idleTimeout: TimeAmount = .seconds(75)
    package var headTimeout: TimeAmount = .seconds(60)
    package var bodyTimeout: TimeAmount = .seconds(60)
    /// How long a refused client's remaining bytes are read and dropped after the answer, so that closing the
    /// connection does not reset it before the answer is read (nginx's lingering close).
    package var lingerTimeout: TimeAmount = .seconds(2)

    package init() {}
}
