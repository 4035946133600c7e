/// What a verified client certificate says about its holder, in the forms header-cert-auth needs.
package struct CertificateIdentity: Sendable, Hashable {
    /// Subject alternative names of kind DNS, URI, email and IP, in certificate order (other kinds are ignored).
    package var subjectAltNames: [SubjectAltName]
    /// The first subject commonName, if any.
    package var commonName: String?
    /// The subject in Kong header-cert-auth's `X-Client-Cert-DN` form, e.g.
    /// `C=US/CN=kongclient/L=SF/O=KONG/OU=ENG/ST=CA`; see ``CertificateIdentity/kongDistinguishedName(_:)``.
    package var subjectDN: String
    /// The subject as RFC 4514-like ordered attributes (short name or OID, UTF-8 value), in certificate order.
    package var subjectAttributes: [(type: String, value: String)]
    /// Serial number, uppercase hex without separators (as ALB's `X-Amzn-Mtls-Clientcert-Serial-Number`).
    package var serialNumber: String
    /// Validity, seconds since the epoch.
    package var notBefore: Int64
    package var notAfter: Int64
    /// SHA-256 of the leaf's DER, lowercase hex (Envoy's XFCC `Hash`).
    package var sha256: String

    /// The names consumer matching tries, in Kong's order: every SAN value in certificate order, then the CN.
    /// (Kong's mtls-auth/header-cert-auth `get_subject_names_from_cert`.)
    package var names: [String] {
        var names = self.subjectAltNames.map(\.value)
        if let cn = self.commonName { names.append(cn) }
        return names
    }

    /// The first SPIFFE ID among the URI SANs.
    package var spiffeID: String? { self.subjectAltNames.first(where: \.isSPIFFEID)?.value }

    /// `X-Client-Cert-SAN`: the names joined with `,` (Kong's observed format, CN included).
    package var sanHeaderValue: String { self.names.joined(separator: ",") }

    /// Kong's DN string: `type=value` per attribute, **one per attribute type (the last occurrence wins)**, sorted
    /// bytewise and joined with `/`. This mirrors lua-resty-openssl's name-to-string that header-cert-auth uses; a
    /// subject with two `OU`s keeps only the last one, as in Kong.
    package static func kongDistinguishedName(_ attributes: [(type: String, value: String)]) -> String {
        var byType: [String: String] = [:]
        for (type, value) in attributes { byType[type] = value }
        return byType.map { "\($0.key)=\($0.value)" }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .joined(separator: "/")
    }

    package static func == (lhs: CertificateIdentity, rhs: CertificateIdentity) -> Bool {
        lhs.sha256 == rhs.sha256 && lhs.subjectAltNames == rhs.subjectAltNames && lhs.commonName == rhs.commonName
            && lhs.subjectDN == rhs.subjectDN && lhs.serialNumber == rhs.serialNumber
            && lhs.notBefore == rhs.notBefore && lhs.notAfter == rhs.notAfter
            && lhs.subjectAttributes.elementsEqual(rhs.subjectAttributes, by: { $0 == $1 })
    }

    package func hash(into hasher: inout Hasher) { hasher.combine(self.sha256) }
}
