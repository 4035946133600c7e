/// Finds two entities that may not coexist: same endpoint key, same unique field, or same cache key.
package enum UniquenessCheck {
    package struct Conflict: Sendable {
        package var path: String
        package var message: String
    }

    /// The values that must be unique for one entity, each as (description, key).
    package static func uniqueKeys(_ schema: EntitySchema, _ entity: [String: JSON]) -> [[String: JSON]] {
        var keys: [[String: JSON]] = []
        for field in ([schema.endpointKey].compactMap { $0 } + schema.uniqueFields) {
            if let v = entity[field], !v.isNull { keys.append([field: v]) }
        }
        if !schema.cacheKey.isEmpty {
            var k: [String: JSON] = [:]
            for f in schema.cacheKey { k[f] = entity[f] ?? .null }
            keys.append(k)
        }
        return keys
    }

    package static func firstConflict(in content: ConfigContent) -> Conflict? {
        for schema in EntityRegistry.all {
            var seen: [JSON: Int] = [:]
            for (i, entity) in content[schema.name].enumerated() {
                for key in self.uniqueKeys(schema, entity) {
                    let k = JSON.object(key)
                    if let first = seen[k] {
                        return Conflict(
                            path: "\(schema.name)[id=\(entity["id"]?.stringValue ?? "")]",
                            message: "UNIQUE violation detected on '\(LuaPretty.render(k))' (also used by the entity "
                                + "with id '\(content[schema.name][first]["id"]?.stringValue ?? "")')")
                    }
                    seen[k] = i
                }
            }
        }
        return nil
    }
}
