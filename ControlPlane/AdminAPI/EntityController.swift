import Foundation
import GatewayModel
import HTTPTypes
import Hummingbird
import Logging

/// Kong's generated CRUD endpoints for one entity type: the collection, the entity by id or endpoint key, the
/// nested forms under each parent (`/services/{s}/routes`), and the parent seen from a child
/// (`/routes/{r}/service`).
struct EntityController {
    let store: ConfigStore
    let schema: EntitySchema
    let bodyLimit: Int

    func register(_ routes: AdminRoutes) {
        let base = "/\(self.schema.adminPath)"
        routes.add(base, [.get: self.list(scope: nil), .post: self.create(scope: nil)])
        routes.add("\(base)/:key", [
            .get: self.get(scope: nil), .patch: self.update(scope: nil), .put: self.upsert(scope: nil),
            .delete: self.delete(scope: nil),
        ])
        for fk in self.schema.foreignKeys {
            guard let parent = EntityRegistry.schema(fk.reference) else { continue }
            let nested = "/\(parent.adminPath)/:key/\(self.schema.nestedAdminPath)"
            let scope = ParentScope(store: self.store, parent: parent, field: fk.field)
            routes.add(nested, [.get: self.list(scope: scope), .post: self.create(scope: scope)])
            routes.add("\(nested)/:child", [
                .get: self.get(scope: scope), .patch: self.update(scope: scope), .put: self.upsert(scope: scope),
                .delete: self.delete(scope: scope),
            ])
            routes.add("\(base)/:key/\(fk.field)", [.get: self.parentGet(fk, parent), .patch: self.parentUpdate(fk, parent)])
        }
    }

    // MARK: Collection

    private func list(scope: ParentScope?) -> AdminHandler {
        { request, _ in
            let query = AdminQuery(request)
            let page = try Pagination.request(query)
            let resolved = try await scope?.resolve(request)
            let result = try await self.store.list(self.schema, page: page, scope: resolved)
            let offset = result.nextAfter.map(Pagination.token)
            var next: JSON = .null
            if let offset { next = .string(Pagination.next(path: request.uri.path, offset: offset, query: query)) }
            return AdminResponse.json([
                "data": .array(result.rows.map(JSON.object)),
                "offset": offset.map(JSON.string) ?? .null,
                "next": next,
            ])
        }
    }

    private func create(scope: ParentScope?) -> AdminHandler {
        { request, _ in
            var request = request
            let body = try await AdminBody.read(&request, limit: self.bodyLimit)
            let resolved = try await scope?.resolve(request)
            let entity = try await self.store.create(self.schema, input: body.fields, coerce: body.fromForm,
                                                     scope: resolved, info: ChangeInfo(request))
            return AdminResponse.json(.object(entity), status: .created)
        }
    }

    // MARK: Entity

    /// The entity named in the URL: `:key` on top-level paths, `:child` on nested ones (where `:key` is the parent).
    private func key(_ context: BasicRequestContext, nested: Bool = false) throws -> String {
        guard let k = context.parameters.get(nested ? "child" : "key") else { throw GatewayError.notFound }
        return PercentDecoding.decode(k, plusIsSpace: false)
    }

    private func get(scope: ParentScope?) -> AdminHandler {
        { request, context in
            let resolved = try await scope?.resolve(request, context)
            guard let entity = try await self.store.get(self.schema, key: self.key(context, nested: scope != nil), scope: resolved) else {
                throw GatewayError.notFound
            }
            return AdminResponse.json(.object(entity))
        }
    }

    private func update(scope: ParentScope?) -> AdminHandler {
        { request, context in
            var request = request
            let body = try await AdminBody.read(&request, limit: self.bodyLimit)
            let resolved = try await scope?.resolve(request, context)
            guard let entity = try await self.store.update(
                self.schema, key: self.key(context, nested: scope != nil), input: body.fields, coerce: body.fromForm, scope: resolved,
                info: ChangeInfo(request))
            else { throw GatewayError.notFound }
            return AdminResponse.json(.object(entity))
        }
    }

    private func upsert(scope: ParentScope?) -> AdminHandler {
        { request, context in
            var request = request
            let body = try await AdminBody.read(&request, limit: self.bodyLimit)
            let resolved = try await scope?.resolve(request, context)
            let (entity, _) = try await self.store.upsert(
                self.schema, key: self.key(context, nested: scope != nil), input: body.fields, coerce: body.fromForm, scope: resolved,
                info: ChangeInfo(request))
            return AdminResponse.json(.object(entity))
        }
    }

    private func delete(scope: ParentScope?) -> AdminHandler {
        { request, context in
            let resolved = try await scope?.resolve(request, context)
            try await self.store.delete(self.schema, key: self.key(context, nested: scope != nil), scope: resolved, info: ChangeInfo(request))
            return AdminResponse.noContent()
        }
    }

    // MARK: Parent seen from a child (`/routes/{r}/service`)

    private func parentID(_ fk: ForeignKey, _ context: BasicRequestContext) async throws -> String {
        guard let child = try await self.store.get(self.schema, key: self.key(context)),
            let id = child[fk.field]?["id"]?.stringValue
        else { throw GatewayError.notFound }
        return id
    }

    private func parentGet(_ fk: ForeignKey, _ parent: EntitySchema) -> AdminHandler {
        { _, context in
            let id = try await self.parentID(fk, context)
            guard let entity = try await self.store.get(parent, key: id) else { throw GatewayError.notFound }
            return AdminResponse.json(.object(entity))
        }
    }

    private func parentUpdate(_ fk: ForeignKey, _ parent: EntitySchema) -> AdminHandler {
        { request, context in
            var request = request
            let body = try await AdminBody.read(&request, limit: self.bodyLimit)
            let id = try await self.parentID(fk, context)
            guard let entity = try await self.store.update(parent, key: id, input: body.fields, coerce: body.fromForm,
                                                           info: ChangeInfo(request))
            else { throw GatewayError.notFound }
            return AdminResponse.json(.object(entity))
        }
    }
}

/// The parent named in a nested URL, resolved to a ``Scope`` (404 when it does not exist).
struct ParentScope: Sendable {
    let store: ConfigStore
    let parent: EntitySchema
    let field: String

    func resolve(_ request: Request, _ context: BasicRequestContext? = nil) async throws -> Scope {
        let segments = request.uri.path.split(separator: "/")
        guard segments.count >= 2 else { throw GatewayError.notFound }
        let key = PercentDecoding.decode(String(segments[1]), plusIsSpace: false)
        guard let entity = try await self.store.get(self.parent, key: key), let id = entity["id"]?.stringValue else {
            throw GatewayError.notFound
        }
        return Scope(field: self.field, parentID: id)
    }
}

/// Kong's `size` / `offset` / `tags` query parameters and the `next` link.
enum Pagination {
    static let defaultSize = 100
    static let maxSize = 1000

    /// The `size` parameter alone (lists whose `offset` is not an entity position, such as `/snapshots`).
    static func size(_ query: AdminQuery) throws -> Int {
        guard let s = query["size"] else { return self.defaultSize }
        guard let n = Int(s) else { throw GatewayError.invalidSize("size must be a number") }
        guard n >= 1, n <= self.maxSize else {
            throw GatewayError.invalidSize("size must be an integer between 1 and \(self.maxSize)")
        }
        return n
    }

    static func request(_ query: AdminQuery) throws -> PageRequest {
        var page = PageRequest(size: try self.size(query))
        if let o = query["offset"], !o.isEmpty {
            guard let id = self.decode(o) else { throw GatewayError.invalidOffset(o) }
            page.after = id
        }
        if let t = query["tags"], !t.isEmpty {
            let hasAnd = t.contains(",")
            let hasOr = t.contains("/")
            if hasAnd && hasOr {
                throw GatewayError.invalidOptions("invalid option (tags: invalid filter syntax)",
                                                  fields: ["tags": "invalid filter syntax"])
            }
            let tags = t.split(separator: hasOr ? "/" : ",").map(String.init)
            if tags.count > 5 {
                throw GatewayError.invalidOptions("invalid option (tags: cannot query more than 5 tags)",
                                                  fields: ["tags": "cannot query more than 5 tags"])
            }
            page.tags = hasOr ? .any(tags) : .all(tags)
        }
        return page
    }

    static func token(_ id: String) -> String {
        Data(id.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ token: String) -> String? {
        var b64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64), let id = String(data: data, encoding: .utf8),
            UUIDString.isValid(id)
        else { return nil }
        return id
    }

    static func next(path: String, offset: String, query: AdminQuery) -> String {
        var parts = ["offset=\(offset)"]
        if let s = query["size"] { parts.append("size=\(s)") }
        if let t = query["tags"], let e = t.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) {
            parts.append("tags=\(e)")
        }
        return "\(path)?\(parts.joined(separator: "&"))"
    }
}
