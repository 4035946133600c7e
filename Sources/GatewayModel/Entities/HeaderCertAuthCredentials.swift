extension EntitySchema {
    /// Manual certificate-to-consumer mappings for header-cert-auth (Kong's `header_cert_auth_credentials`).
    package static let headerCertAuthCredentials = EntitySchema(
        name: "header_cert_auth_credentials",
        singular: "header_cert_auth_credential",
        endpointKey: nil,
        cacheKey: ["subject_name", "ca_certificate"],
        fields: [
            Typedefs.id, Typedefs.createdAt, Typedefs.updatedAt,
            Typedefs.foreign("consumer", "consumers", required: true),
            FieldSpec("subject_name", .string, required: true),
            Typedefs.foreign("ca_certificate", "ca_certificates"),
            Typedefs.tags,
        ],
        onDelete: ["consumer": .cascade, "ca_certificate": .cascade],
        adminPath: "header-cert-auths",
        nestedAdminPath: "header-cert-auth"
    )
}
