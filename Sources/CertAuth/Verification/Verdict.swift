/// The outcome of verifying one presented chain: trusted with an identity, or rejected with a reason.
///
/// Rejection is a value, not an error (swift-certificates' idiom): an untrusted client is an expected outcome.
package enum Verdict: Sendable, Hashable {
    case trusted(VerifiedCertificate)
    case rejected(VerificationFailure)

    /// The time (seconds since the epoch) from which this verdict may no longer hold: for a trusted chain the
    /// first notAfter in it (OpenSSL treats a certificate as expired from its notAfter second on), for a rejection
    /// its ``VerificationFailure/reconsiderAt``. nil = no bound beyond the cache TTL.
    package var validUntil: Int64? {
        switch self {
        case .trusted(let v): v.chainNotAfter == Int64.max ? nil : v.chainNotAfter
        case .rejected(let f): f.reconsiderAt
        }
    }
}

/// A chain that verified against a ``TrustStore``.
package struct VerifiedCertificate: Sendable, Hashable {
    /// The leaf's identity.
    package var identity: CertificateIdentity
    /// The configured CA the verified path ends at (a root, or an intermediate with `allow_partial_chain`): the
    /// issuing CA for credential matching.
    package var issuer: TrustStore.Anchor
    /// Length of the verified path, leaf and anchor included.
    package var chainLength: Int
    /// The earliest notAfter in the verified path (seconds since the epoch).
    package var chainNotAfter: Int64
    /// The verification time used.
    package var verifiedAt: Int64
    /// ``RevocationStatus/notChecked`` from ``ChainVerifier``; a ``RevocationChecker`` fills it in.
    package var revocation: RevocationStatus
    /// What a revocation check needs for each certificate of the verified path that is not the anchor (leaf
    /// first); computed once per verification so a cached verdict never reparses its chain.
    package var revocationTargets: [RevocationTarget]
    /// The leaf as an RFC 9440 `Client-Cert` field value (`:` base64 of its DER `:`), made once per verification
    /// for plugins that forward the verified certificate upstream.
    package var clientCertField: String
}
