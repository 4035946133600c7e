import GatewayModel
import HTTPTypes
import Hummingbird
import Logging

/// `POST /config` (declarative import that replaces the whole configuration atomically) and `GET /config`.
struct ConfigController {
    let store: ConfigStore
    let builder: SnapshotBuilder
    let bodyLimit: Int

    func register(_ routes: AdminRoutes) {
        routes.add("/config", [.get: self.export, .post: self.load])
    }

    private var export: AdminHandler {
        { request, _ in
            let (_, content) = try await self.store.currentContent()
            let doc = DeclarativeExporter.document(content)
            switch try AdminQuery(request).format() {
            case "json"?: return AdminResponse.json(doc, pretty: true)
            case "yaml"?: return AdminResponse.text(YAMLBridge.emit(doc), contentType: "application/yaml")
            default: return AdminResponse.json(["config": .string(YAMLBridge.emit(doc))])
            }
        }
    }

    private var load: AdminHandler {
        { request, _ in
            var request = request
            let query = AdminQuery(request)
            let document = try await Self.readDocument(&request, limit: self.bodyLimit)
            // Stored entities with the same id keep their timestamps; only those are parsed.
            let stored = try await self.store.bodiesByID()
            let content = try DeclarativeLoader.load(
                document, trustedIPs: self.store.trustedIPs, now: ConfigStore.now(),
                existing: { type, id in stored[type]?[id].flatMap { try? EntityTable.decode($0) } }
            ).get()
            if query.isTruthy("check_hash") {
                let candidate = ConfigHash.of(content)
                if candidate == (try await self.store.currentHash()).hash { return AdminResponse.notModified() }
            }
            var info = ChangeInfo(request)
            if request.headers[HTTPField.Name("X-Portcullis-Comment")!] == nil { info.comment = "declarative import" }
            let (version, hash) = try await self.store.replaceAll(content, info: info)
            return AdminResponse.json(
                [
                    "version": .int(version), "hash": .string(hash),
                    "counts": .object(JSONObject(content.counts) { .int(Int64($0)) }),
                ], status: .created)
        }
    }

    /// The declarative document from any of the body shapes Kong accepts: the document itself as JSON, YAML text,
    /// or a `config` field (JSON, form or multipart) holding YAML or JSON text.
    static func readDocument(_ request: inout Request, limit: Int) async throws -> JSON {
        let mediaType = (request.headers[.contentType] ?? "").split(separator: ";").first?.lowercased() ?? ""
        if mediaType.contains("yaml") || mediaType.hasPrefix("text/") {
            let buffer = try await request.collectBody(upTo: limit)
            guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
                throw GatewayError.badRequest("declarative config is not UTF-8 text")
            }
            return try DeclarativeLoader.parseText(text)
        }
        let body = try await AdminBody.read(&request, limit: limit)
        if case .string(let text)? = body.fields["config"] { return try DeclarativeLoader.parseText(text) }
        if body.fields.isEmpty {
            throw GatewayError.declarative("expected a declarative configuration",
                                           fields: ["@entity": ["expected a declarative configuration"]])
        }
        if body.fromForm {
            throw GatewayError.badRequest("send the declarative document as JSON/YAML, or as a 'config' form field")
        }
        return .object(body.fields)
    }
}
