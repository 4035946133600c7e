extension EntitySchema {
    /// Kong's `consumers`: who a verified certificate maps to.
    package static let consumers = EntitySchema(
        name: "consumers",
        singular: "consumer",
        endpointKey: "username",
        uniqueFields: ["custom_id"],
        fields: [
            Typedefs.id, Typedefs.createdAt, Typedefs.updatedAt,
            FieldSpec("username", .string),
            FieldSpec("custom_id", .string),
            Typedefs.tags,
        ],
        check: { entity, _, errors in
            if entity["username"]?.isNull != false && entity["custom_id"]?.isNull != false {
                errors.addEntity("at least one of these fields must be non-empty: 'custom_id', 'username'")
            }
        }
    )
}
