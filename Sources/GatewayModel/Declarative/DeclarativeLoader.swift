/// Reads a Kong declarative document (`_format_version: "3.0"`, YAML or JSON) into a validated
/// ``ConfigContent``: nested children get their parent's key, top-level references resolve by name or id,
/// entities without an id get a deterministic one, and every entity passes the same validation as the admin API.
/// Either the whole document is valid or nothing is returned.
package struct DeclarativeLoader {
    /// Top-level keys that are tool metadata, not configuration.
    static let metaKeys: Set<String> = ["_format_version", "_transform", "_comment", "_info", "_konnect", "_workspace",
                                         "_ignore", "_trusted_ips"]

    private struct Pending {
        var schema: EntitySchema
        var raw: JSONObject
        var path: String
        /// The id was written in the document (not derived from a key, whose clashes are reported as such).
        var explicitID: Bool
    }

    private var pending: [Pending] = []
    /// By path; a dictionary while collecting (paths come in no particular key order), an object at the end.
    private var problems: [String: JSON] = [:]
    private var lines: [String] = []

    private mutating func fail(_ path: String, _ message: String) {
        self.problems[path] = .string(message)
        self.lines.append("\(path): \(message)")
    }

    private mutating func fail(_ path: String, _ errors: ValidationErrors) {
        self.problems[path] = errors.fieldsJSON
        // `lines` lists entity-level messages first; they have no field name to join with a dot.
        self.lines.append(contentsOf: errors.lines.enumerated().map { i, line in
            i < errors.entity.count ? "\(path): \(line)" : "\(path).\(line)"
        })
    }

    /// Parses YAML or JSON text (JSON is a subset of YAML, but is read with the faster JSON parser first).
    package static func parseText(_ text: String) throws(GatewayError) -> JSON {
        let trimmed = text.drop { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        if trimmed.hasPrefix("{"), let json = try? JSONParser.parse(text) { return json }
        do {
            return try YAMLBridge.parse(text)
        } catch {
            throw GatewayError.declarative(error.description, fields: ["@entity": [.string(error.description)]])
        }
    }

    /// Loads a declarative document.
    ///
    /// - Parameters:
    ///   - document: the parsed document.
    ///   - trustedIPs: the gateway-wide trusted sources, for plugin validation.
    ///   - now: the time written into new timestamps.
    ///   - existing: the currently stored entity with a given type and id, so that unchanged entities keep their
    ///     timestamps and an identical re-import yields an identical hash.
    package static func load(
        _ document: JSON,
        trustedIPs: [String],
        now: Int64,
        existing: (String, String) -> JSONObject? = { _, _ in nil }
    ) -> Result<ConfigContent, GatewayError> {
        var loader = DeclarativeLoader()
        return loader.run(document, trustedIPs: trustedIPs, now: now, existing: existing)
    }

    private mutating func run(
        _ document: JSON,
        trustedIPs: [String],
        now: Int64,
        existing: (String, String) -> JSONObject?
    ) -> Result<ConfigContent, GatewayError> {
        guard case .object(let doc) = document else {
            return .failure(.declarative("expected an object at the top level",
                                         fields: ["@entity": ["expected an object at the top level"]]))
        }
        switch doc["_format_version"] {
        case .string("3.0")?: break
        case nil, .null?: self.fail("_format_version", "required field missing")
        case .string(let v)?:
            self.fail("_format_version", "unsupported version '\(v)': this gateway reads \"3.0\"")
        case _?:
            self.fail("_format_version", "expected the string \"3.0\" (quote it in YAML: _format_version: \"3.0\")")
        }
        for key in doc.keys.sorted() where !Self.metaKeys.contains(key) && EntityRegistry.schema(key) == nil {
            self.fail(key, "unknown entity type (this gateway supports: "
                + EntityRegistry.all.map(\.name).joined(separator: ", ") + ")")
        }

        // Pass 1: flatten nesting, assign ids, fill parent keys of nested children.
        for schema in EntityRegistry.all {
            guard let value = doc[schema.name], !value.isNull else { continue }
            self.collect(value, schema: schema, parent: nil, path: schema.name)
        }
        guard self.problems.isEmpty else { return .failure(self.error()) }

        // Index by id and endpoint key for reference resolution.
        var ids: [String: Set<String>] = [:]
        var byKey: [String: [String: String]] = [:]
        var caByDigest: [String: String] = [:]
        for p in self.pending {
            guard let id = p.raw["id"]?.stringValue else { continue }
            // A repeated name is reported as such; the id derived from it then repeats too, but saying so would
            // only add a second message about an id the document never mentions.
            var repeatedKey = false
            if let key = p.schema.endpointKey, let v = p.raw[key]?.stringValue {
                if byKey[p.schema.name, default: [:]][v] != nil {
                    self.fail(p.path, "uniqueness violation: '\(p.schema.name)' entity with \(key) set to '\(v)' already declared")
                    repeatedKey = true
                }
                byKey[p.schema.name, default: [:]][v] = id
            }
            if !repeatedKey, p.explicitID, ids[p.schema.name, default: []].contains(id) {
                self.fail(p.path, "uniqueness violation: '\(p.schema.name)' entity with primary key set to '\(id)' already declared")
            }
            ids[p.schema.name, default: []].insert(id)
            if p.schema.name == EntitySchema.caCertificates.name, let pem = p.raw["cert"]?.stringValue,
                let facts = try? CertificateFacts.parse(pem: pem)
            {
                caByDigest[facts.digest] = id
            }
        }
        guard self.problems.isEmpty else { return .failure(self.error()) }

        // Pass 2: resolve references, validate.
        let knownIDs = ids
        let context = ValidationContext(trustedIPs: trustedIPs, now: now) { type, id in
            knownIDs[type]?.contains(id) ?? false
        }
        var entities: [String: [JSONObject]] = [:]
        for var p in self.pending {
            var unresolved = false
            for fk in p.schema.foreignKeys {
                guard let ref = p.raw[fk.field], !ref.isNull else { continue }
                switch self.resolve(ref, fk: fk, ids: ids, byKey: byKey, caByDigest: caByDigest) {
                case .success(let id): p.raw[fk.field] = ["id": .string(id)]
                case .failure(let problem):
                    self.fail("\(p.path).\(fk.field)", problem.message)
                    unresolved = true
                }
            }
            // Validating the unresolved reference would only add "expected a record" for the same mistake.
            if unresolved { continue }
            let id = p.raw["id"]?.stringValue ?? ""
            let stored = existing(p.schema.name, id)
            switch EntityWriter.prepare(p.schema, input: p.raw, existing: nil, kind: .create, coerceStrings: false,
                                        context: context)
            {
            case .failure(let errors): self.fail(p.path, errors)
            case .success(var entity):
                if let stored {
                    self.keepTimestamps(&entity, stored: stored, input: p.raw)
                }
                entities[p.schema.name, default: []].append(entity)
            }
        }
        guard self.problems.isEmpty else { return .failure(self.error()) }
        let content = ConfigContent(entities: entities, trustedIPs: trustedIPs)
        if let conflict = UniquenessCheck.firstConflict(in: content) {
            self.fail(conflict.path, conflict.message)
            return .failure(self.error())
        }
        return .success(content)
    }

    /// An unchanged entity keeps both timestamps; a changed one keeps `created_at`.
    private func keepTimestamps(_ entity: inout JSONObject, stored: JSONObject, input: JSONObject) {
        if input["created_at"] == nil, let c = stored["created_at"] { entity["created_at"] = c }
        guard input["updated_at"] == nil, let u = stored["updated_at"] else { return }
        var a = entity
        var b = stored
        a["updated_at"] = nil
        b["updated_at"] = nil
        if JSON.object(a).semanticallyEquals(.object(b)) { entity["updated_at"] = u }
    }

    private func resolve(
        _ ref: JSON,
        fk: ForeignKey,
        ids: [String: Set<String>],
        byKey: [String: [String: String]],
        caByDigest: [String: String]
    ) -> Result<String, ResolveProblem> {
        let target = fk.reference
        var key: String?
        switch ref {
        case .string(let s): key = s
        case .object(let o):
            if let id = o["id"]?.stringValue { key = id } else if let v = o.values.first?.stringValue, o.count == 1 { key = v }
        default: break
        }
        guard let key else { return .failure(ResolveProblem(message: "expected a reference by id or name")) }
        if ids[target]?.contains(key.lowercased()) == true { return .success(key.lowercased()) }
        if let id = byKey[target]?[key] { return .success(id) }
        if target == EntitySchema.caCertificates.name, key.contains("BEGIN CERTIFICATE"),
            let facts = try? CertificateFacts.parse(pem: key), let id = caByDigest[facts.digest]
        {
            return .success(id)
        }
        return .failure(ResolveProblem(message: "invalid reference '\(fk.field): \(key)' (no such entry in '\(target)')"))
    }

    private mutating func collect(_ value: JSON, schema: EntitySchema, parent: (field: String, id: String)?, path: String) {
        guard case .array(let items) = value else {
            self.fail(path, "expected an array")
            return
        }
        let nested = EntityRegistry.children(of: schema.name)
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index + 1)]"
            guard case .object(var raw) = item else {
                self.fail(itemPath, "expected an object")
                continue
            }
            raw["_comment"] = nil
            raw["_ignore"] = nil
            var children: [(EntitySchema, ForeignKey, JSON)] = []
            for (childSchema, fk) in nested {
                if let v = raw.removeValue(forKey: childSchema.name) { children.append((childSchema, fk, v)) }
            }
            if let parent {
                if let given = raw[parent.field], !given.isNull {
                    let givenID = given["id"]?.stringValue ?? given.stringValue
                    if givenID != parent.id {
                        self.fail("\(itemPath).\(parent.field)", "must not be set on a nested entity (it is the enclosing one)")
                        continue
                    }
                }
                raw[parent.field] = ["id": .string(parent.id)]
            }
            let id: String
            if let given = raw["id"], !given.isNull {
                guard let s = given.stringValue, UUIDString.isValid(s) else {
                    self.fail("\(itemPath).id", "expected a valid UUID")
                    continue
                }
                id = s.lowercased()
            } else {
                id = Self.deterministicID(schema: schema, raw: raw, parentID: parent?.id)
            }
            let explicit = raw["id"].map { !$0.isNull } ?? false
            raw["id"] = .string(id)
            self.pending.append(Pending(schema: schema, raw: raw, path: itemPath, explicitID: explicit))
            for (childSchema, fk, v) in children {
                self.collect(v, schema: childSchema, parent: (fk.field, id), path: "\(itemPath).\(childSchema.name)")
            }
        }
    }

    /// A name-based UUID, so re-importing the same file always yields the same ids: from the endpoint key when
    /// there is one, else another unique field (`custom_id`, a CA's digest), else the cache key (a plugin's name
    /// and scope, a credential's subject and CA) — so editing a plugin's config keeps its id. Only entities with
    /// none of these (an unnamed route) fall back to their own content and parent.
    static func deterministicID(schema: EntitySchema, raw: JSONObject, parentID: String?) -> String {
        if let key = schema.endpointKey, let v = raw[key]?.stringValue {
            return UUIDString.v5("\(schema.name):\(key):\(v)")
        }
        if schema.name == EntitySchema.caCertificates.name, let pem = raw["cert"]?.stringValue,
            let facts = try? CertificateFacts.parse(pem: pem)
        {
            return UUIDString.v5("\(schema.name):cert_digest:\(facts.digest)")
        }
        for field in schema.uniqueFields {
            if let v = raw[field]?.stringValue { return UUIDString.v5("\(schema.name):\(field):\(v)") }
        }
        if !schema.cacheKey.isEmpty {
            let key = JSON.array(schema.cacheKey.map { raw[$0] ?? .null })
            return UUIDString.v5("\(schema.name):cache_key:\(JSONWriter.string(key))")
        }
        return UUIDString.v5("\(schema.name):\(parentID ?? "-"):\(JSONWriter.string(.object(raw)))")
    }

    private func error() -> GatewayError {
        let message = self.lines.count == 1 ? self.lines[0] : "\(self.lines.count) errors (\(self.lines.joined(separator: "; ")))"
        return .declarative(message, fields: .object(JSONObject(self.problems)))
    }
}

struct ResolveProblem: Error {
    var message: String
}
