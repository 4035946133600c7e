/// How an admin request writes an entity.
package enum WriteKind: Sendable {
    /// POST: a new entity from the input and defaults.
    case create
    /// PATCH: the stored entity with the input merged over it (records such as plugin `config` merge deeply).
    case update
    /// PUT: the input replaces the entity; unspecified fields go back to their defaults.
    case replace
}

/// Turns admin or declarative input into the exact entity that gets stored, or says everything wrong with it.
///
/// One pipeline for all entity types: merge with the stored entity, expand shorthands, fill generated fields and
/// defaults, validate every field, then run the entity's own checks.
package enum EntityWriter {
    package static func prepare(
        _ schema: EntitySchema,
        input: JSONObject,
        existing: JSONObject?,
        kind: WriteKind,
        coerceStrings: Bool,
        context: ValidationContext
    ) -> Result<JSONObject, ValidationErrors> {
        var errors = ValidationErrors()
        var entity: JSONObject
        if kind == .update, let existing {
            entity = self.merge(existing, input, schema: schema)
        } else {
            entity = input
        }

        // Generated fields: ids are kept, timestamps follow Kong (seconds since the epoch).
        if let existingID = existing?["id"]?.stringValue {
            if let given = input["id"], !given.isNull, given.stringValue?.lowercased() != existingID {
                errors.add("id", "cannot be changed")
            }
            entity["id"] = .string(existingID)
        } else if entity["id"] == nil || entity["id"]?.isNull == true {
            entity["id"] = .string(UUIDString.random())
        } else if case .string(let s) = entity["id"] {
            entity["id"] = .string(s.lowercased())
        }
        if input["created_at"] == nil || input["created_at"]?.isNull == true {
            entity["created_at"] = existing?["created_at"] ?? .int(context.now)
        }
        if input["updated_at"] == nil || input["updated_at"]?.isNull == true {
            entity["updated_at"] = .int(context.now)
        }

        schema.normalize(&entity, &errors)
        // A shorthand that cannot be expanded (a bad `url`) is the whole story; the fields it would have filled
        // are not reported missing on top of it.
        if !errors.isEmpty { return .failure(errors) }

        var fields = schema.fields
        var unknownPlugin: String? = nil
        if schema.name == EntitySchema.plugins.name {
            (fields, unknownPlugin) = EntitySchema.pluginFields(for: entity)
        }
        entity = RecordDefaults.fill(entity, fields: fields)
        let (result, fieldErrors) = SchemaValidator.processRecord(entity, fields: fields, coerceStrings: coerceStrings)
        for (k, v) in fieldErrors { errors.add(k, v) }
        if let unknownPlugin {
            // Nothing else about a plugin this gateway does not know can be checked.
            errors.fields = [:]
            errors.entity = []
            errors.fields["name"] = .message(
                "plugin '\(unknownPlugin)' not enabled; available plugins: "
                    + PluginSchema.available.keys.sorted().joined(separator: ", ")
            )
        }
        if errors.isEmpty { schema.check(result, context, &errors) }
        return errors.isEmpty ? .success(result) : .failure(errors)
    }

    /// PATCH semantics: input fields replace stored ones, except records, which merge key by key.
    static func merge(_ base: JSONObject, _ input: JSONObject, schema: EntitySchema) -> JSONObject {
        var out = base
        let recordFields: Set<String> = schema.name == EntitySchema.plugins.name
            ? ["config"]
            : Set(schema.fields.compactMap { f in
                if case .record = f.type { return f.name }
                return nil
            })
        for (k, v) in input {
            if recordFields.contains(k), case .object(let b)? = base[k], case .object(let i) = v {
                out[k] = .object(self.deepMerge(b, i))
            } else {
                out[k] = v
            }
        }
        return out
    }

    private static func deepMerge(_ base: JSONObject, _ input: JSONObject) -> JSONObject {
        var out = base
        for (k, v) in input {
            if case .object(let b)? = base[k], case .object(let i) = v {
                out[k] = .object(self.deepMerge(b, i))
            } else {
                out[k] = v
            }
        }
        return out
    }
}
