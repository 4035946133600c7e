import GatewayModel
import HTTPTypes
import Hummingbird
import Logging

/// Snapshot history: `GET /snapshots`, `GET /snapshots/{v}`, `GET /snapshots/{a}/diff/{b}` and
/// `POST /snapshots/{v}/rollback`.
struct SnapshotsController {
    let store: ConfigStore
    let builder: SnapshotBuilder

    func register(_ routes: AdminRoutes) {
        routes.add("/snapshots", [.get: self.list])
        routes.add("/snapshots/:version", [.get: self.show])
        routes.add("/snapshots/:version/diff/:other", [.get: self.diff])
        routes.add("/snapshots/:version/rollback", [.post: self.rollback])
    }

    private func version(_ context: BasicRequestContext, _ name: String) async throws -> Int64 {
        guard let raw = context.parameters.get(name) else { throw GatewayError.notFound }
        if raw == "latest" {
            guard let latest = try await self.store.latestSnapshot() else { throw GatewayError.notFound }
            return latest.version
        }
        guard let v = Int64(raw), v >= 0 else {
            throw GatewayError.badRequest("'\(raw)' is not a snapshot version (expected a number or 'latest')")
        }
        return v
    }

    private func load(_ version: Int64) async throws -> (SnapshotInfo, ConfigContent) {
        guard let (info, payload) = try await self.store.snapshot(version: version) else {
            throw GatewayError(status: 404, message: "snapshot \(version) not found (it was never materialised or "
                + "is older than the retention window)")
        }
        return (info, try ConfigContent.decode(payload))
    }

    private var list: AdminHandler {
        { request, _ in
            let query = AdminQuery(request)
            // The offset here is a version (the page's last), not an entity position: only `size` is shared.
            let size = try Pagination.size(query)
            var before: Int64? = nil
            if let o = query["offset"], !o.isEmpty {
                guard let v = Int64(o), v >= 0 else { throw GatewayError.invalidOffset(o) }
                before = v
            }
            let rows = try await self.store.snapshots(limit: size + 1, before: before)
            let shown = Array(rows.prefix(size))
            let offset = rows.count > size ? shown.last.map { String($0.version) } : nil
            return AdminResponse.json([
                "data": .array(shown.map(\.json)),
                "offset": offset.map(JSON.string) ?? .null,
                "next": offset.map { .string("/snapshots?offset=\($0)&size=\(size)") } ?? .null,
            ])
        }
    }

    private var show: AdminHandler {
        { request, context in
            let format = try AdminQuery(request).format()
            let (info, content) = try await self.load(self.version(context, "version"))
            let doc = DeclarativeExporter.document(content)
            var response: Response
            if format == "yaml" {
                response = AdminResponse.text(YAMLBridge.emit(doc), contentType: "application/yaml")
            } else {
                response = AdminResponse.json(doc, pretty: true)
            }
            response.headers[HTTPField.Name("X-Portcullis-Config-Version")!] = String(info.version)
            response.headers[HTTPField.Name("X-Portcullis-Config-Hash")!] = info.hash
            return response
        }
    }

    private var diff: AdminHandler {
        { _, context in
            let (a, left) = try await self.load(self.version(context, "version"))
            let (b, right) = try await self.load(self.version(context, "other"))
            var result = ConfigDiff.diff(from: left, to: right)
            result["from"] = a.json
            result["to"] = b.json
            return AdminResponse.json(result)
        }
    }

    private var rollback: AdminHandler {
        { request, context in
            let target = try await self.version(context, "version")
            let (info, content) = try await self.load(target)
            var change = ChangeInfo(request)
            if request.headers[HTTPField.Name("X-Portcullis-Comment")!] == nil {
                change.comment = "rollback to version \(target)"
            }
            let restored = ConfigContent(entities: Dictionary(uniqueKeysWithValues: EntityRegistry.all.map {
                ($0.name, content[$0.name])
            }), trustedIPs: self.store.trustedIPs)
            let (version, _) = try await self.store.replaceAll(restored, info: change)
            let built = try await self.builder.buildIfNeeded()
            return AdminResponse.json(
                [
                    "version": .int(version),
                    "hash": built.version == version ? .string(built.hash) : .null,
                    "rolled_back_to": info.json,
                ], status: .created)
        }
    }
}
