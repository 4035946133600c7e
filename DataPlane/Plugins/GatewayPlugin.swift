import GatewayModel
package import NIOCore
package import NIOHTTP1

/// The run-time half of a plugin: one immutable instance per plugin entity and snapshot, compiled from the entity's
/// `config` by its ``PluginFactory`` (the admin-time half, the schema, lives in `GatewayModel/Plugins`).
///
/// Phases follow Kong's model and are opt-in: list the ones implemented in ``phases``; the others are never
/// called. Every phase runs synchronously on the connection's event loop: no blocking, no `await`. Phases run in
/// descending priority (Kong runs `access`, `header_filter` and `log` all in static priority order).
///
/// ```swift
/// final class DenyAll: GatewayPlugin {
///     let phases: PluginPhases = .access
///     func access(_ context: PluginContext) -> AccessResult {
///         .respond(.message(.forbidden, "You cannot consume this service"))
///     }
/// }
/// let factory = PluginFactory(name: "deny-all", priority: 950) { _ in DenyAll() }
/// ```
package protocol GatewayPlugin: AnyObject, Sendable {
    /// The phases this plugin implements.
    var phases: PluginPhases { get }

    /// Before the request goes upstream: route, service and peer are known, the consumer is whatever a
    /// higher-priority auth plugin set. May change ``PluginContext/request`` (headers sent upstream), set the
    /// consumer, answer early, or suspend on a future for a rare slow path.
    func access(_ context: PluginContext) -> AccessResult

    /// The response head about to go to the client (the upstream's or a local answer); may change its headers.
    func headerFilter(_ response: inout HTTPResponseHead, context: PluginContext)

    /// Once per request, after its response is complete or the request ended without one
    /// (``PluginContext/outcome``). Metrics and audit only.
    func log(_ context: PluginContext)
}

extension GatewayPlugin {
    package func access(_ context: PluginContext) -> AccessResult { .proceed }
    package func headerFilter(_ response: inout HTTPResponseHead, context: PluginContext) {}
    package func log(_ context: PluginContext) {}
}

/// The phases a ``GatewayPlugin`` implements.
package struct PluginPhases: OptionSet, Sendable, Hashable {
    package let rawValue: UInt8
    package init(rawValue: UInt8) { self.rawValue = rawValue }

    package static let access = PluginPhases(rawValue: 1)
    package static let headerFilter = PluginPhases(rawValue: 2)
    package static let log = PluginPhases(rawValue: 4)
}

/// What an `access` phase decided.
package enum AccessResult: Sendable {
    /// Go on with the next plugin, then upstream.
    case proceed
    /// End the request with this answer (Kong's `kong.response.exit`): no later plugin's `access` runs and the
    /// request body is not forwarded. `header_filter` and `log` still run.
    case respond(PluginResponse)
    /// The rare slow path (e.g. a revocation fetch): the request waits, without blocking the loop, for the
    /// future's outcome; the client's reads are held meanwhile. A failed future answers 500. The future may
    /// complete on any loop; to change the context when it completes, map it on ``PluginContext/eventLoop``
    /// (`hop(to:)` then `assumeIsolated()`).
    case suspend(EventLoopFuture<AccessResult>)
}

/// An answer a plugin gives instead of the upstream.
package struct PluginResponse: Sendable {
    package var status: HTTPResponseStatus
    /// Extra headers; a `Content-Type` here replaces the default JSON one. Framing headers (`Content-Length`,
    /// `Transfer-Encoding`, `Connection`) are the proxy's and are ignored.
    package var headers: HTTPHeaders
    package var body: [UInt8]

    package init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Kong's default exit body: `{"message": "…"}` as JSON. Encode once per snapshot where the message is fixed.
    package static func message(_ status: HTTPResponseStatus, _ message: String, headers: HTTPHeaders = [:])
        -> PluginResponse
    {
        PluginResponse(status: status, headers: headers, body: JSONWriter.bytes(["message": .string(message)]))
    }
}
