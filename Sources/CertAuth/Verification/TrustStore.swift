import COpenSSL
import GatewayModel

/// The CA certificates one plugin instance trusts, loaded once into an OpenSSL `X509_STORE`.
///
/// Build one per distinct CA set when a snapshot is compiled (off the event loops) and share it: the store is
/// immutable after construction and OpenSSL locks its internal lookups, so concurrent verifications are safe.
/// ``identity`` is a digest of the CA set and entity ids (order and duplicates ignored) for cache keys.
package final class TrustStore: @unchecked Sendable {
    /// One trusted CA certificate.
    package struct Anchor: Sendable, Hashable {
        /// The `ca_certificates` entity id, when the caller supplied one.
        package var id: String?
        /// SHA-256 of the DER, lowercase hex: the same value as the entity's `cert_digest`.
        package var digest: String
        /// The subject in OpenSSL's one-line form, for logs.
        package var subject: String
    }

    /// Why a CA set cannot become a trust store.
    package struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        package var message: String
        package var description: String { self.message }
    }

    /// The anchors, in the order given.
    package let anchors: [Anchor]
    /// SHA-256 over the sorted (digest, id) pairs of the anchors, lowercase hex.
    package let identity: String

    let store: OpaquePointer
    /// The parsed anchors (read-only after construction), in the order given.
    let certificates: [X509Certificate]

    /// - Parameter caCertificates: the CA entities: an optional id and a PEM text with exactly one certificate,
    ///   which must be a CA (basicConstraints `CA:TRUE`).
    /// - Throws: ``Failure`` when the list is empty or a PEM is not one CA certificate.
    package init(caCertificates: [(id: String?, pem: String)]) throws(Failure) {
        guard !caCertificates.isEmpty else { throw Failure(message: "no CA certificates") }
        guard let store = X509_STORE_new() else { throw Failure(message: "X509_STORE_new failed") }
        var anchors: [Anchor] = []
        var certificates: [X509Certificate] = []
        var digests: Set<[UInt8]> = []
        do throws(Failure) {
            for (id, pem) in caCertificates {
                let label = id ?? "#\(anchors.count + 1)"
                let ders: [[UInt8]]
                do {
                    ders = try PEMCertificates.parse(Array(pem.utf8), maxCertificates: 1)
                } catch {
                    throw Failure(message: "CA certificate \(label): \(error.detail)")
                }
                guard let der = ders.first, let cert = X509Certificate(der: der) else {
                    throw Failure(message: "CA certificate \(label): cannot be parsed")
                }
                guard X509_get_extension_flags(cert.pointer) & UInt32(EXFLAG_CA) != 0 else {
                    throw Failure(message: "CA certificate \(label): not a CA (basicConstraints CA:TRUE missing)")
                }
                let digest = Digest.sha256(der)
                if digests.insert(digest).inserted {
                    guard X509_STORE_add_cert(store, cert.pointer) == 1 else {
                        throw Failure(message: "CA certificate \(label): \(OpenSSLValues.drainErrors())")
                    }
                }
                anchors.append(Anchor(id: id, digest: Digest.hex(digest), subject: Self.oneLine(cert.pointer)))
                certificates.append(cert)
            }
        } catch {
            X509_STORE_free(store)
            ERR_clear_error()
            throw error
        }
        self.store = store
        self.anchors = anchors
        self.certificates = certificates
        // Digest and entity id of each anchor, sorted: the same CA set gives the same identity in any order.
        let parts = anchors.map { a in Array(a.digest.utf8) + [0] + Array((a.id ?? "").utf8) }
        self.identity = Digest.sha256Hex(Array(Set(parts)).sorted { $0.lexicographicallyPrecedes($1) }
            .flatMap { $0 + [0x0A] })
    }

    /// A store of PEM texts without entity ids.
    package convenience init(pems: [String]) throws(Failure) {
        try self.init(caCertificates: pems.map { (id: nil, pem: $0) })
    }

    deinit { X509_STORE_free(self.store) }

    /// The anchor whose certificate equals `x509` (as OpenSSL compares: by cached SHA-1 of the DER).
    func anchor(matching x509: OpaquePointer) -> Anchor? {
        for (i, cert) in self.certificates.enumerated() where X509_cmp(cert.pointer, x509) == 0 {
            return self.anchors[i]
        }
        return nil
    }

    static func oneLine(_ x509: OpaquePointer) -> String {
        guard let name = X509_get_subject_name(x509), let s = X509_NAME_oneline(name, nil, 0) else { return "" }
        defer { pc_OPENSSL_free(s) }
        return String(cString: s)
    }
}
