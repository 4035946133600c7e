extension EntitySchema {
    /// Kong's `plugins`: a plugin instance, global or scoped to a service, a route or a consumer.
    package static let plugins = EntitySchema(
        name: "plugins",
        singular: "plugin",
        endpointKey: "instance_name",
        cacheKey: ["name", "route", "service", "consumer"],
        fields: [
            Typedefs.id, Typedefs.createdAt, Typedefs.updatedAt,
            FieldSpec("name", .string, required: true),
            Typedefs.name("instance_name"),
            Typedefs.foreign("route", "routes"),
            Typedefs.foreign("service", "services"),
            Typedefs.foreign("consumer", "consumers"),
            FieldSpec("config", .any, required: true),
            FieldSpec("protocols", .set(.element(.string, oneOf: Typedefs.protocols)), required: true,
                      default: .array(Typedefs.httpProtocols), lenMin: 1),
            FieldSpec("enabled", .boolean, required: true, default: true),
            Typedefs.tags,
            FieldSpec("ordering", .any),
        ],
        onDelete: ["route": .cascade, "service": .cascade, "consumer": .cascade],
        check: { plugin, context, errors in
            guard let name = plugin["name"]?.stringValue, let schema = PluginSchema.available[name] else { return }
            if schema.noConsumer, plugin["consumer"]?.isNull == false {
                errors.add("consumer", "value must be null (\(name) cannot be configured on a consumer)")
            }
            if case .array(let protos)? = plugin["protocols"] {
                var bad: [Int: FieldError] = [:]
                for (i, p) in protos.enumerated() where !schema.protocols.contains(p) {
                    let allowed = schema.protocols.compactMap(\.stringValue).joined(separator: ", ")
                    bad[i] = .message("expected one of: \(allowed)")
                }
                if !bad.isEmpty { errors.add("protocols", .elements(bad)) }
            }
            if case .object(let config)? = plugin["config"] {
                var configErrors: [String: FieldError] = [:]
                schema.check(config, context, &configErrors)
                if !configErrors.isEmpty { errors.add("config", .fields(configErrors)) }
            }
        }
    )

    /// The fields of a plugin entity once its name is known: `config` becomes the plugin's record (with its
    /// defaults) and `protocols` defaults to what the plugin supports.
    package static func pluginFields(for entity: JSONObject) -> ([FieldSpec], unknownName: String?) {
        var fields = Self.plugins.fields
        guard let name = entity["name"]?.stringValue else { return (fields, nil) }
        guard let schema = PluginSchema.available[name] else { return (fields, name) }
        for i in fields.indices {
            switch fields[i].name {
            case "config": fields[i].type = .record(schema.config)
            case "protocols": fields[i].defaultValue = .array(schema.protocols)
            default: break
            }
        }
        return (fields, nil)
    }
}
