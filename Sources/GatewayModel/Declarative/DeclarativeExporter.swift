/// Writes a ``ConfigContent`` as a Kong declarative document: flat entity lists, foreign keys as plain ids,
/// null fields without a default left out. Loading the result gives back the same content.
package enum DeclarativeExporter {
    package static func document(_ content: ConfigContent) -> JSON {
        var doc: JSONObject = ["_format_version": .string(ConfigContent.formatVersion)]
        if !content.trustedIPs.isEmpty { doc["_trusted_ips"] = .array(content.trustedIPs.map(JSON.string)) }
        for schema in EntityRegistry.all {
            let rows = content[schema.name]
            if rows.isEmpty { continue }
            doc[schema.name] = .array(rows.map { .object(self.entity(schema, $0)) })
        }
        return .object(doc)
    }

    static func entity(_ schema: EntitySchema, _ entity: JSONObject) -> JSONObject {
        var fields = schema.fields
        if schema.name == EntitySchema.plugins.name { fields = EntitySchema.pluginFields(for: entity).0 }
        var out = self.strip(entity, fields: fields)
        for fk in schema.foreignKeys {
            if let id = entity[fk.field]?["id"] { out[fk.field] = id }
        }
        return out
    }

    private static func strip(_ object: JSONObject, fields: [FieldSpec]) -> JSONObject {
        var out: JSONObject = [:]
        let specs = Dictionary(fields.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for (k, v) in object {
            let spec = specs[k]
            if v.isNull, spec?.effectiveDefault == nil { continue }
            if case .record(let sub)? = spec?.type, case .object(let o) = v {
                out[k] = .object(self.strip(o, fields: sub))
            } else {
                out[k] = v
            }
        }
        return out
    }
}
