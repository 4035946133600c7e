/// Validates a whole configuration as a data plane receives it: every entity against its schema (the same
/// checks the control plane ran when it was written), every reference resolvable inside the configuration,
/// every unique key unique. A data plane applies nothing that fails here.
package enum ConfigValidator {
    /// Entity types whose checks look beyond the entity itself (referenced CA certificates, trusted sources, the
    /// clock): checked on every apply even when the entity did not change.
    static let contextDependent: Set<String> = [
        EntitySchema.services.name, EntitySchema.plugins.name, EntitySchema.caCertificates.name,
    ]

    /// Problems found, each naming the entity (`routes 5b0…: paths[1]: …`); empty when the content is valid.
    ///
    /// - Parameter fresh: when given, the ids per type that are new or changed since a configuration that passed
    ///   this validation; other entities skip the checks that depend on nothing but themselves.
    package static func problems(_ content: ConfigContent, now: Int64, fresh: [String: Set<String>]? = nil,
                                 limit: Int = 20) -> [String]
    {
        var out: [String] = []
        var ids: [String: Set<String>] = [:]
        for schema in EntityRegistry.all {
            ids[schema.name] = Set(content[schema.name].compactMap { $0["id"]?.stringValue })
        }
        let known = ids
        let context = ValidationContext(trustedIPs: content.trustedIPs, now: now) { type, id in
            known[type]?.contains(id) ?? false
        }
        for schema in EntityRegistry.all {
            let freshIDs = fresh?[schema.name]
            let foreignKeys = schema.foreignKeys
            let alwaysCheck = Self.contextDependent.contains(schema.name)
            for entity in content[schema.name] {
                let id = entity["id"]?.stringValue ?? "?"
                func fail(_ message: String) { out.append("\(schema.name) \(id): \(message)") }
                let unchanged = freshIDs.map { !$0.contains(id) } ?? false
                var fields = schema.fields
                if schema.name == EntitySchema.plugins.name {
                    let (pluginFields, unknown) = EntitySchema.pluginFields(for: entity)
                    if let unknown {
                        fail("plugin '\(unknown)' is not available on this data plane")
                        continue
                    }
                    fields = pluginFields
                }
                var all = ValidationErrors()
                if unchanged {
                    if alwaysCheck { schema.check(entity, context, &all) }
                } else {
                    let (result, errors) = SchemaValidator.processRecord(entity, fields: fields, coerceStrings: false)
                    for (k, v) in errors { all.add(k, v) }
                    if all.isEmpty { schema.check(result, context, &all) }
                }
                if !all.isEmpty { fail(all.lines.joined(separator: "; ")) }
                for fk in foreignKeys {
                    guard let ref = entity[fk.field], !ref.isNull else { continue }
                    guard let target = ref["id"]?.stringValue, known[fk.reference]?.contains(target) == true else {
                        fail("\(fk.field) references a missing \(fk.reference) entity")
                        continue
                    }
                }
                if out.count >= limit { return out }
            }
        }
        if let conflict = UniquenessCheck.firstConflict(in: content) { out.append("\(conflict.path): \(conflict.message)") }
        return out
    }
}
