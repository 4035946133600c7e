/// Finds two entities that may not coexist: same endpoint key, same unique field, or same cache key.
package enum UniquenessCheck {
    package struct Conflict: Sendable {
        package var path: String
        package var message: String
    }

    /// The values that must be unique for one entity, each as (description, key).
    package static func uniqueKeys(_ schema: EntitySchema, _ entity: JSONObject) -> [JSONObject] {
        var keys: [JSONObject] = []
        for field in ([schema.endpointKey].compactMap { $0 } + schema.uniqueFields) {
            if let v = entity[field], !v.isNull { keys.append([field: v]) }
        }
        if !schema.cacheKey.isEmpty {
            var k: JSONObject = [:]
            for f in schema.cacheKey { k[f] = entity[f] ?? .null }
            keys.append(k)
        }
        return keys
    }

    /// A unique key without building a JSON value: which key of the schema (by position) and its value as text.
    struct FlatKey: Hashable {
        var slot: Int
        var value: String
    }

    /// The unique keys of an entity, in the order of ``uniqueKeys(_:_:)``: cheap to hash for 100k rows.
    static func flatKeys(_ schema: EntitySchema, _ entity: JSONObject, fields: [String]) -> [FlatKey] {
        var keys: [FlatKey] = []
        for (slot, field) in fields.enumerated() {
            if let v = entity[field], !v.isNull { keys.append(FlatKey(slot: slot, value: v.stringValue ?? JSONWriter.string(v))) }
        }
        if !schema.cacheKey.isEmpty {
            keys.append(FlatKey(slot: -1, value: JSONWriter.string(.array(schema.cacheKey.map { entity[$0] ?? .null }))))
        }
        return keys
    }

    package static func firstConflict(in content: ConfigContent) -> Conflict? {
        for schema in EntityRegistry.all {
            let fields = [schema.endpointKey].compactMap { $0 } + schema.uniqueFields
            let entities = content[schema.name]
            // Sized once for every key of every entity: no rehash while it fills.
            var seen = [FlatKey: Int](minimumCapacity: entities.count * (fields.count + (schema.cacheKey.isEmpty ? 0 : 1)))
            for (i, entity) in entities.enumerated() {
                for (n, k) in self.flatKeys(schema, entity, fields: fields).enumerated() {
                    if let first = seen[k] {
                        // flatKeys and uniqueKeys list the same keys in the same order.
                        let keys = self.uniqueKeys(schema, entity)
                        let shown = n < keys.count ? keys[n] : [:]
                        return Conflict(
                            path: "\(schema.name)[id=\(entity["id"]?.stringValue ?? "")]",
                            message: "UNIQUE violation detected on '\(LuaPretty.render(.object(shown)))' (also used by "
                                + "the entity with id '\(content[schema.name][first]["id"]?.stringValue ?? "")')")
                    }
                    seen[k] = i
                }
            }
        }
        return nil
    }

    /// Whether `entity` shares a unique key with another entity among `rows` (same type). Compares values in place:
    /// one pass, no key built per row.
    package static func conflict(of entity: JSONObject, _ schema: EntitySchema, among rows: [JSONObject])
        -> Conflict?
    {
        let id = entity["id"]?.stringValue ?? ""
        var checks: [JSONObject] = []
        for field in [schema.endpointKey].compactMap({ $0 }) + schema.uniqueFields {
            if let v = entity[field], !v.isNull { checks.append([field: v]) }
        }
        if !schema.cacheKey.isEmpty {
            var k: JSONObject = [:]
            for f in schema.cacheKey { k[f] = entity[f] ?? .null }
            checks.append(k)
        }
        if checks.isEmpty { return nil }
        for other in rows {
            for key in checks where key.allSatisfy({ (other[$0.key] ?? .null) == $0.value }) {
                let otherID = other["id"]?.stringValue ?? ""
                guard otherID != id else { continue }
                return Conflict(
                    path: "\(schema.name)[id=\(id)]",
                    message: "UNIQUE violation detected on '\(LuaPretty.render(.object(key)))' (also used by the entity "
                        + "with id '\(otherID)')")
            }
        }
        return nil
    }
}
