extension EntitySchema {
    /// Kong's `ca_certificates`: trust anchors that plugins reference by id.
    package static let caCertificates = EntitySchema(
        name: "ca_certificates",
        singular: "ca_certificate",
        endpointKey: nil,
        uniqueFields: ["cert_digest"],
        fields: [
            Typedefs.id, Typedefs.createdAt, Typedefs.updatedAt,
            FieldSpec("cert", .string, required: true),
            FieldSpec("cert_digest", .string, generated: true),
            Typedefs.tags,
        ],
        normalize: { entity, errors in
            // The digest is always derived from the certificate; a client-supplied value is ignored.
            entity["cert_digest"] = .null
            guard let pem = entity["cert"]?.stringValue else { return }
            if let facts = try? CertificateFacts.parse(pem: pem) { entity["cert_digest"] = .string(facts.digest) }
        },
        check: { entity, context, errors in
            guard let pem = entity["cert"]?.stringValue else { return }
            do throws(CertificateFacts.Problem) {
                let facts = try CertificateFacts.parse(pem: pem)
                if facts.notAfter < context.now {
                    errors.add("cert", "certificate expired, \"Not After\" time is in the past")
                } else if !facts.isCA {
                    errors.add("cert", "certificate does not appear to be a CA because it is missing the \"CA\" basic constraint")
                }
            } catch {
                errors.add("cert", error.message)
            }
        }
    )
}
