import Foundation
import GatewayModel
package import Hummingbird
import HTTPTypes
import NIOCore

/// The status listener (`--status-listen`): what load balancer health checks and operators look at.
///
/// - `GET /status`: version, hash (also as Kong's `configuration_hash`) and time of the configuration served,
///   where it came from, whether the control plane is connected, the last error.
/// - `GET /status/ready`: 200 once a configuration is applied, 503 before (so a load balancer only sends
///   traffic to data planes that can route it).
/// - `GET /metrics`: the Prometheus text exposition (docs/operations.md lists the series), when metrics are on.
package enum StatusServer {
    package static func router(state: ConfigState, nodeID: String, metrics: DataPlaneMetrics? = nil)
        -> Hummingbird.Router<BasicRequestContext>
    {
        let router = Hummingbird.Router(context: BasicRequestContext.self)
        if let metrics {
            router.get("/metrics") { _, _ -> Response in
                var headers = HTTPFields()
                headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
                return Response(status: .ok, headers: headers,
                                body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.render())))
            }
        }
        router.get("/status") { _, _ -> Response in
            let config = state.config
            let link = state.linkState
            func opt<T>(_ v: T?, _ f: (T) -> JSON) -> JSON { v.map(f) ?? .null }
            return Self.json([
                "node_id": .string(nodeID),
                "pid": .int(Int64(getpid())),
                "config_version": opt(config?.version) { .int($0) },
                "config_hash": opt(config?.hash, JSON.string),
                // Kong's name for the same (its data planes' status API).
                "configuration_hash": opt(config?.hash, JSON.string),
                "applied_at": opt(config?.appliedAt) { .double($0) },
                "config_source": opt(config?.source.rawValue, JSON.string),
                "cp_connected": .bool(link.connected),
                "cp_id": opt(link.controlPlaneID, JSON.string),
                "cp_last_contact": opt(link.lastContact) { .double($0) },
                "last_error": opt(link.lastError, JSON.string),
                "last_error_at": opt(link.lastErrorAt) { .double($0) },
                "counts": opt(config?.content.counts) { .object(JSONObject($0) { .int(Int64($0)) }) },
            ], status: .ok)
        }
        router.get("/status/ready") { _, _ -> Response in
            guard let config = state.config else {
                return Self.json(["message": "no configuration applied yet"], status: .serviceUnavailable)
            }
            return Self.json(["message": "ready", "config_version": .int(config.version),
                              "config_hash": .string(config.hash)], status: .ok)
        }
        return router
    }

    static func json(_ value: JSON, status: HTTPResponse.Status) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONWriter.bytes(value))))
    }
}
