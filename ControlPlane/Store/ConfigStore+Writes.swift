import Foundation
import GRDB
package import GatewayModel

extension ConfigStore {
    /// Runs one write transaction that changes the configuration: bumps the version, commits durably, then wakes
    /// the snapshot builder. A `GatewayError` thrown inside rolls everything back and is rethrown as is.
    func change<T: Sendable>(_ info: ChangeInfo, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let result = try await self.pool.write { db -> T in
            let value = try body(db)
            let version = try Self.currentVersion(db) + 1
            try db.execute(
                sql: "INSERT INTO config_versions (version, created_at, author, comment) VALUES (?, ?, ?, ?)",
                arguments: [version, Date().timeIntervalSince1970, info.author, info.comment])
            return value
        }
        self.notifyCommit()
        return result
    }

    private func validationContext(_ db: Database) throws -> ValidationContext {
        let caIDs = Set(try String.fetchAll(db, sql: "SELECT id FROM ca_certificates"))
        return ValidationContext(trustedIPs: self.trustedIPs, now: Self.now()) { type, id in
            type == EntitySchema.caCertificates.name && caIDs.contains(id)
        }
    }

    /// Turns `{"name": "x"}`-style or plain-string references into `{"id": …}`, failing with Kong's foreign key
    /// violation when the referenced entity does not exist.
    private func resolveReferences(_ db: Database, _ table: EntityTable, _ input: inout JSONObject) throws {
        for (key, _) in table.foreignColumns {
            guard let value = input[key.field], !value.isNull else { continue }
            guard let target = EntityRegistry.schema(key.reference) else { continue }
            let targetTable = EntityTable.of(target)
            var lookup: String?
            var shown: JSON = value
            switch value {
            case .string(let s):
                lookup = s
                shown = UUIDString.isValid(s) ? ["id": .string(s)] : [target.endpointKey ?? "id": .string(s)]
            case .object(let o) where o.count == 1:
                if let id = o["id"]?.stringValue {
                    guard UUIDString.isValid(id) else { continue }  // left for validation to report
                    lookup = id
                } else if let k = target.endpointKey, let v = o[k]?.stringValue {
                    lookup = v
                }
            default:
                continue
            }
            guard let lookup else { continue }
            guard let found = try self.find(db, targetTable, key: lookup), let id = found["id"] else {
                throw GatewayError.foreignKeyViolation(field: key.field, key: shown, parent: key.reference)
            }
            input[key.field] = ["id": id]
        }
    }

    private func prepare(
        _ db: Database,
        _ table: EntityTable,
        input: JSONObject,
        existing: JSONObject?,
        kind: WriteKind,
        coerce: Bool
    ) throws -> JSONObject {
        var input = input
        try self.resolveReferences(db, table, &input)
        let context = try self.validationContext(db)
        switch EntityWriter.prepare(table.schema, input: input, existing: existing, kind: kind,
                                    coerceStrings: coerce, context: context)
        {
        case .failure(let errors): throw GatewayError.schemaViolation(errors)
        case .success(let entity): return entity
        }
    }

    /// Kong's uniqueness rules, checked before SQLite's constraints so the answer names the conflicting key.
    private func checkUnique(_ db: Database, _ table: EntityTable, _ entity: JSONObject) throws {
        let id = entity["id"]?.stringValue ?? ""
        for (field, column) in table.uniqueColumns {
            guard let v = entity[field]?.stringValue else { continue }
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM \(table.name) WHERE \(column) = ? AND id != ?",
                                 arguments: [v, id]) == true
            {
                throw GatewayError.uniqueViolation([field: .string(v)])
            }
        }
        if table.hasCacheKey {
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM \(table.name) WHERE cache_key = ? AND id != ?",
                                 arguments: [table.cacheKey(entity), id]) == true
            {
                var key: JSONObject = [:]
                for f in table.schema.cacheKey { key[f] = entity[f] ?? .null }
                throw GatewayError.uniqueViolation(key)
            }
        }
    }

    /// Inserts or updates a prepared entity after Kong's key checks (a new entity's id must be free).
    private func save(_ db: Database, _ table: EntityTable, _ entity: JSONObject, isNew: Bool) throws {
        if isNew, let id = entity["id"]?.stringValue,
            try Bool.fetchOne(db, sql: "SELECT 1 FROM \(table.name) WHERE id = ?", arguments: [id]) == true
        {
            throw GatewayError.uniqueViolation(["id": .string(id)])
        }
        try self.checkUnique(db, table, entity)
        if isNew {
            try table.insert(db, entity)
        } else {
            try table.update(db, entity)
        }
    }

    private func scoped(_ input: JSONObject, _ scope: Scope?) -> JSONObject {
        var input = input
        if let scope { input[scope.field] = ["id": .string(scope.parentID)] }
        return input
    }

    /// POST: creates an entity.
    package func create(
        _ schema: EntitySchema,
        input: JSONObject,
        coerce: Bool = false,
        scope: Scope? = nil,
        info: ChangeInfo = ChangeInfo()
    ) async throws -> JSONObject {
        let table = EntityTable.of(schema)
        let input = self.scoped(input, scope)
        return try await self.change(info) { db in
            let entity = try self.prepare(db, table, input: input, existing: nil, kind: .create, coerce: coerce)
            try self.save(db, table, entity, isNew: true)
            return entity
        }
    }

    /// PATCH: merges the input into an existing entity; `nil` when there is none.
    package func update(
        _ schema: EntitySchema,
        key: String,
        input: JSONObject,
        coerce: Bool = false,
        scope: Scope? = nil,
        info: ChangeInfo = ChangeInfo()
    ) async throws -> JSONObject? {
        let table = EntityTable.of(schema)
        let input = self.scoped(input, scope)
        do {
            return try await self.change(info) { db in
                guard let existing = try self.find(db, table, key: key, scope: scope) else { throw NotFoundSignal() }
                let entity = try self.prepare(db, table, input: input, existing: existing, kind: .update, coerce: coerce)
                try self.save(db, table, entity, isNew: false)
                return entity
            }
        } catch is NotFoundSignal {
            return nil
        }
    }

    /// PUT: replaces the entity named by `key` (id or endpoint key), creating it when absent.
    /// Returns the entity and whether it was created.
    package func upsert(
        _ schema: EntitySchema,
        key: String,
        input: JSONObject,
        coerce: Bool = false,
        scope: Scope? = nil,
        info: ChangeInfo = ChangeInfo()
    ) async throws -> (entity: JSONObject, created: Bool) {
        let table = EntityTable.of(schema)
        var input = self.scoped(input, scope)
        if UUIDString.isValid(key) {
            if let given = input["id"]?.stringValue, given.lowercased() != key.lowercased() {
                var e = ValidationErrors()
                e.add("id", "must match the id in the URL ('\(key)')")
                throw GatewayError.schemaViolation(e)
            }
            input["id"] = .string(key.lowercased())
        } else if let endpoint = schema.endpointKey {
            if let given = input[endpoint], !given.isNull, given.stringValue != key {
                var e = ValidationErrors()
                e.add(endpoint, "must match the \(endpoint) in the URL ('\(key)')")
                throw GatewayError.schemaViolation(e)
            }
            input[endpoint] = .string(key)
        } else {
            throw GatewayError.notFound
        }
        let finalInput = input
        return try await self.change(info) { db in
            let input = finalInput
            let existing = try self.find(db, table, key: key)
            let entity = try self.prepare(db, table, input: input, existing: existing,
                                          kind: existing == nil ? .create : .replace, coerce: coerce)
            try self.save(db, table, entity, isNew: existing == nil)
            return (entity, existing == nil)
        }
    }

    /// DELETE: removes the entity and, as Kong does, its cascading children. Refuses while restricting
    /// children exist (routes of a service) or while plugin or service configs reference a CA certificate.
    /// Returns whether anything was deleted.
    @discardableResult
    package func delete(
        _ schema: EntitySchema,
        key: String,
        scope: Scope? = nil,
        info: ChangeInfo = ChangeInfo()
    ) async throws -> Bool {
        let table = EntityTable.of(schema)
        do {
            return try await self.change(info) { db in
                guard let existing = try self.find(db, table, key: key, scope: scope),
                    let id = existing["id"]?.stringValue
                else { throw NotFoundSignal() }
                for (child, fk) in EntityRegistry.children(of: schema.name) where fk.onDelete == .restrict {
                    if try Bool.fetchOne(db, sql: "SELECT 1 FROM \(child.name) WHERE fk_\(fk.field) = ? LIMIT 1",
                                         arguments: [id]) == true
                    {
                        throw GatewayError.foreignKeyRestricted(parent: schema.name, child: child.name)
                    }
                }
                if schema.name == EntitySchema.caCertificates.name {
                    let checks = [
                        ("plugins", "$.config.ca_certificates"), ("services", "$.ca_certificates"),
                    ]
                    for (other, path) in checks {
                        if try Bool.fetchOne(
                            db,
                            sql: "SELECT 1 FROM \(other) WHERE EXISTS (SELECT 1 FROM json_each(json_extract(body, '\(path)')) WHERE value = ?) LIMIT 1",
                            arguments: [id]) == true
                        {
                            throw GatewayError.foreignKeyRestricted(parent: schema.name, child: other)
                        }
                    }
                }
                try db.execute(sql: "DELETE FROM \(table.name) WHERE id = ?", arguments: [id])
                return true
            }
        } catch is NotFoundSignal {
            return false
        }
    }

    /// Replaces the whole configuration in one transaction (declarative import, rollback).
    /// Returns the new version and the hash its snapshot will have.
    @discardableResult
    package func replaceAll(_ content: ConfigContent, info: ChangeInfo) async throws -> (version: Int64, hash: String) {
        // Each entity is encoded once: the same canonical bodies are stored and hashed.
        var bodies: [String: [String]] = [:]
        for schema in EntityRegistry.all {
            bodies[schema.name] = content[schema.name].map { JSONWriter.string(.object($0)) }
        }
        let hash = ConfigHash.of(bodies: bodies, trustedIPs: self.trustedIPs)
        let encoded = bodies
        let version = try await self.change(info) { db in
            for schema in EntityRegistry.all.reversed() {
                try db.execute(sql: "DELETE FROM \(schema.name)")
            }
            for schema in EntityRegistry.all {
                let table = EntityTable.of(schema)
                for (entity, body) in zip(content[schema.name], encoded[schema.name] ?? []) {
                    try table.insert(db, entity, body: body)
                }
            }
            return try Self.currentVersion(db) + 1
        }
        return (version, hash)
    }
}

/// Internal signal that the target of an update or delete does not exist (rolls the transaction back).
struct NotFoundSignal: Error {}
