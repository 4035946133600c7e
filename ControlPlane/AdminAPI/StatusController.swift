import Foundation
import GatewayModel
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// `GET /`, `GET /status`, `GET /status/ready`, `GET /tags`, `GET /tags/{tag}`, `GET /openapi.json` and
/// `GET /metrics`.
struct StatusController {
    let store: ConfigStore
    let builder: SnapshotBuilder
    let node: NodeInfo
    let stats: AdminServerStats
    let metrics: ControlPlaneMetrics

    struct NodeInfo: Sendable {
        var id: String
        var hostname: String
        var version: String
        var configuration: JSON
    }

    func register(_ routes: AdminRoutes) {
        routes.add("/", [.get: self.root])
        routes.add("/status", [.get: self.status])
        routes.add("/status/ready", [.get: self.ready])
        routes.add("/tags", [.get: self.tags])
        routes.add("/tags/:tag", [.get: self.tags])
        // Behind the admin token like every other path: the document describes what the token protects.
        // Behind the admin token too (a scraper sends it as `Authorization: Bearer`).
        routes.add("/metrics", [.get: { [metrics] _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers,
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.render())))
        }])
        routes.add("/openapi.json", [.get: { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/json; charset=utf-8"
            return Response(status: .ok, headers: headers,
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
        }])
    }

    private var root: AdminHandler {
        { _, _ in
            var plugins: JSONObject = [:]
            for (name, schema) in PluginSchema.available {
                plugins[name] = ["priority": .int(Int64(schema.priority)), "version": .string(self.node.version)]
            }
            return AdminResponse.json([
                "tagline": "Welcome to portcullis",
                "node_id": .string(self.node.id),
                "hostname": .string(self.node.hostname),
                "version": .string(self.node.version),
                "role": "control_plane",
                "plugins": ["available_on_server": .object(plugins)],
                "configuration": self.node.configuration,
            ])
        }
    }

    private var status: AdminHandler {
        { _, _ in
            let version = try await self.store.currentVersion()
            // The builder materialises new versions within milliseconds; if this request is faster, build now so
            // the hash shown is the current configuration's.
            var latest = self.builder.latest
            if latest?.version != version { latest = try await self.builder.buildIfNeeded() }
            return AdminResponse.json([
                "database": ["reachable": true],
                "server": self.stats.json,
                "configuration_version": .int(version),
                "configuration_hash": latest.map { .string($0.hash) } ?? .null,
                "snapshot": latest?.json ?? .null,
                "in_sync": .bool(latest?.version == version),
            ])
        }
    }

    private var ready: AdminHandler {
        { _, _ in
            guard self.builder.latest != nil else {
                return AdminResponse.json(["message": "no configuration snapshot built yet"], status: .serviceUnavailable)
            }
            _ = try await self.store.currentVersion()
            return AdminResponse.json(["message": "ready"])
        }
    }

    private var tags: AdminHandler {
        { _, context in
            let filter = context.parameters.get("tag").map { PercentDecoding.decode($0, plusIsSpace: false) }
            let rows = try await self.store.tags(filter: filter)
            return AdminResponse.json([
                "data": .array(rows.map { ["entity_name": .string($0.0), "entity_id": .string($0.1), "tag": .string($0.2)] }),
                "offset": .null,
                "next": .null,
            ])
        }
    }
}
