/// What happens to children when the entity they reference is deleted.
package enum OnDelete: Sendable {
    /// Children go with the parent (plugins of a service, credentials of a consumer).
    case cascade
    /// The parent cannot be deleted while children exist (routes of a service).
    case restrict
}

/// A foreign key of an entity: the field, the entity it references and the delete behaviour.
package struct ForeignKey: Sendable {
    package var field: String
    package var reference: String
    package var onDelete: OnDelete
}

/// Read-only questions validation may ask about the rest of the configuration (does CA `x` exist?).
package struct ValidationContext: Sendable {
    /// Returns whether an entity of the given type with the given id exists.
    package var exists: @Sendable (_ entity: String, _ id: String) -> Bool
    /// Gateway-wide trusted source CIDRs (the control plane's `--trusted-ips`).
    package var trustedIPs: [String]
    /// Seconds since the epoch, for expiry checks.
    package var now: Int64

    package init(trustedIPs: [String] = [], now: Int64, exists: @escaping @Sendable (String, String) -> Bool) {
        self.exists = exists
        self.trustedIPs = trustedIPs
        self.now = now
    }
}

/// One entity type as Kong defines it: its fields, keys, relations and checks. The admin API, the store, the
/// declarative loader and the data plane all work from these descriptions.
package struct EntitySchema: Sendable {
    /// Plural, as in URLs and declarative files (`services`).
    package var name: String
    /// The foreign-key field name children use for it (`service`).
    package var singular: String
    /// The unique field a URL may name an entity by instead of its id (`name`, `username`).
    package var endpointKey: String?
    /// Other unique fields (besides `id` and the endpoint key), each checked on write.
    package var uniqueFields: [String]
    /// Fields whose combination is unique (Kong's cache key), if any.
    package var cacheKey: [String]
    package var fields: [FieldSpec]
    package var onDelete: [String: OnDelete]
    /// Path segment of the collection in the admin API (`header-cert-auths` for credentials).
    package var adminPath: String
    /// Path segment when nested under a parent (`/consumers/{c}/header-cert-auth`).
    package var nestedAdminPath: String
    /// Turns shorthand input (`url`) into fields and fills computed fields; runs before validation.
    package var normalize: @Sendable (_ entity: inout JSONObject, _ errors: inout ValidationErrors) -> Void
    /// Cross-field and cross-entity checks; runs after field validation succeeded.
    package var check: @Sendable (_ entity: JSONObject, _ context: ValidationContext, _ errors: inout ValidationErrors) -> Void
    /// Shorthand input fields accepted but never stored (`url`).
    package var shorthands: [String]

    package init(
        name: String,
        singular: String,
        endpointKey: String?,
        uniqueFields: [String] = [],
        cacheKey: [String] = [],
        fields: [FieldSpec],
        onDelete: [String: OnDelete] = [:],
        adminPath: String? = nil,
        nestedAdminPath: String? = nil,
        shorthands: [String] = [],
        normalize: @escaping @Sendable (inout JSONObject, inout ValidationErrors) -> Void = { _, _ in },
        check: @escaping @Sendable (JSONObject, ValidationContext, inout ValidationErrors) -> Void = { _, _, _ in }
    ) {
        self.name = name
        self.singular = singular
        self.endpointKey = endpointKey
        self.uniqueFields = uniqueFields
        self.cacheKey = cacheKey
        self.fields = fields
        self.onDelete = onDelete
        self.adminPath = adminPath ?? name
        self.nestedAdminPath = nestedAdminPath ?? (adminPath ?? name)
        self.shorthands = shorthands
        self.normalize = normalize
        self.check = check
    }

    package var foreignKeys: [ForeignKey] {
        self.fields.compactMap { f in
            guard case .foreign(let ref) = f.type else { return nil }
            return ForeignKey(field: f.name, reference: ref, onDelete: self.onDelete[f.name] ?? .restrict)
        }
    }

    package func field(_ name: String) -> FieldSpec? { self.fields.first { $0.name == name } }
}
