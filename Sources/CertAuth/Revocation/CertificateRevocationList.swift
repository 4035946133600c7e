import COpenSSL

/// A parsed CRL (DER or PEM), shared read-only between lookups; cached by URL in ``RevocationChecker``.
///
/// A lookup for a certificate accepts the CRL only if its issuer name is the certificate issuer's subject, the
/// issuer may sign CRLs (keyUsage `cRLSign` when keyUsage is present), the signature verifies with the issuer's
/// key, and the lookup time is inside lastUpdate … nextUpdate (with five minutes of skew). Delta CRLs are refused
/// (``RevocationProblem/Code/badResponse``): we only read complete CRLs.
final class CertificateRevocationList: @unchecked Sendable {
    private let pointer: OpaquePointer
    /// Seconds since the epoch; nil when the CRL has no nextUpdate.
    let nextUpdate: Int64?
    let lastUpdate: Int64?

    /// Parses `bytes`: PEM when it starts with `-----BEGIN`, else DER.
    init(_ bytes: [UInt8]) throws(RevocationProblem) {
        ERR_clear_error()
        defer { ERR_clear_error() }
        let parsed: OpaquePointer? = bytes.withUnsafeBufferPointer { buf -> OpaquePointer? in
            guard let base = buf.baseAddress, buf.count > 0, buf.count <= Int(Int32.max) else { return nil }
            if bytes.starts(with: Array("-----BEGIN".utf8)) {
                guard let bio = BIO_new_mem_buf(base, Int32(buf.count)) else { return nil }
                defer { BIO_free(bio) }
                return PEM_read_bio_X509_CRL(bio, nil, nil, nil)
            }
            var p: UnsafePointer<UInt8>? = base
            guard let crl = d2i_X509_CRL(nil, &p, buf.count) else { return nil }
            guard let end = p, end == base + buf.count else {
                X509_CRL_free(crl)
                return nil
            }
            return crl
        }
        guard let parsed else { throw RevocationProblem(.badResponse, "not a parsable CRL (DER or PEM)") }
        if X509_CRL_get_ext_by_NID(parsed, NID_delta_crl, -1) >= 0 {
            X509_CRL_free(parsed)
            throw RevocationProblem(.badResponse, "delta CRLs are not supported")
        }
        self.pointer = parsed
        self.lastUpdate = OpenSSLValues.unixTime(X509_CRL_get0_lastUpdate(parsed))
        self.nextUpdate = X509_CRL_get0_nextUpdate(parsed).flatMap { OpenSSLValues.unixTime($0) }
    }

    deinit { X509_CRL_free(self.pointer) }

    /// The state of `target`'s certificate according to this CRL at `now` (seconds since the epoch).
    func status(of target: RevocationTarget, now: Int64) -> CertificateRevocation {
        ERR_clear_error()
        defer { ERR_clear_error() }
        guard let cert = X509Certificate(der: target.certificate), let issuer = X509Certificate(der: target.issuer)
        else { return .unknown(RevocationProblem(.internal, "cannot reparse the certificate or its issuer")) }
        return withExtendedLifetime((cert, issuer)) {
            guard let crlIssuer = X509_CRL_get_issuer(self.pointer),
                  let subject = X509_get_subject_name(issuer.pointer), X509_NAME_cmp(crlIssuer, subject) == 0
            else {
                return .unknown(RevocationProblem(.badResponse, "CRL issuer is not the certificate's issuer"))
            }
            let flags = X509_get_extension_flags(issuer.pointer)
            if flags & UInt32(EXFLAG_KUSAGE) != 0, X509_get_key_usage(issuer.pointer) & UInt32(KU_CRL_SIGN) == 0 {
                return .unknown(RevocationProblem(.badSignature, "the issuer's keyUsage does not allow cRLSign"))
            }
            guard let key = X509_get0_pubkey(issuer.pointer), X509_CRL_verify(self.pointer, key) == 1 else {
                return .unknown(RevocationProblem(.badSignature, "CRL signature: \(OpenSSLValues.drainErrors())"))
            }
            let skew = Int64(OCSPExchange.skew)
            guard let last = self.lastUpdate, last <= now + skew else {
                return .unknown(RevocationProblem(.stale, "CRL lastUpdate is in the future"))
            }
            if let next = self.nextUpdate, next + skew < now {
                return .unknown(RevocationProblem(.stale, "CRL nextUpdate has passed"))
            }
            guard let serial = X509_get0_serialNumber(cert.pointer) else {
                return .unknown(RevocationProblem(.internal, "certificate has no serial number"))
            }
            var entry: OpaquePointer? = nil
            let found = X509_CRL_get0_by_serial(self.pointer, &entry, UnsafeMutablePointer(mutating: serial))
            guard found == 1, let entry else { return .good(.crl) }  // 0: absent; 2: removeFromCRL
            var reason = 0
            if let raw = X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, nil, nil) {
                let enumerated = raw.assumingMemoryBound(to: ASN1_ENUMERATED.self)
                reason = Int(ASN1_ENUMERATED_get(enumerated))
                ASN1_ENUMERATED_free(enumerated)
            }
            return .revoked(.crl, reason: CRLReason.name(reason))
        }
    }
}
