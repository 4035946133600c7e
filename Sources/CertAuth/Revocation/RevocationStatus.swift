/// Where a revocation answer came from.
package enum RevocationSource: String, Sendable, Hashable {
    case ocsp
    case crl
}

/// Why the revocation state of a certificate could not be established.
///
/// ``code`` is short and stable (a log and metric label); ``message`` explains, for logs only.
package struct RevocationProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, short label.
    package struct Code: Sendable, Hashable, CustomStringConvertible {
        package let label: String
        private init(_ label: String) { self.label = label }
        package var description: String { self.label }

        /// The certificate names neither an OCSP responder nor a CRL distribution point.
        package static let noResponder = Code("no_responder")
        /// Only non-`http://` locations (OCSP and CRLs are fetched over plain HTTP).
        package static let unsupportedURL = Code("unsupported_url")
        /// Connection refused, reset, or name resolution failed.
        package static let unreachable = Code("unreachable")
        /// No complete answer within `http_timeout`.
        package static let timeout = Code("timeout")
        /// The server answered with a status other than 200.
        package static let httpStatus = Code("http_status")
        /// The answer exceeded the size limit.
        package static let tooLarge = Code("too_large")
        /// Not a usable OCSP response or CRL (malformed, not successful, does not cover the certificate).
        package static let badResponse = Code("bad_response")
        /// The OCSP response or CRL signature does not verify against the issuer or the trust store.
        package static let badSignature = Code("bad_signature")
        /// Outside its thisUpdate/nextUpdate window.
        package static let stale = Code("stale")
        /// The OCSP responder does not know the certificate.
        package static let responderUnknown = Code("responder_unknown")
        /// OpenSSL failed to build or parse something it should have.
        package static let `internal` = Code("internal")
    }

    package var code: Code
    package var message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { "\(self.code.label): \(self.message)" }
}

/// The revocation state of one certificate.
package enum CertificateRevocation: Sendable, Hashable {
    case good(RevocationSource)
    /// `reason` is the RFC 5280 CRLReason name (`keyCompromise`, …; `unspecified` when none is given).
    case revoked(RevocationSource, reason: String)
    case unknown(RevocationProblem)
}

/// Whether revocation was checked for a verified chain, and what was found.
package enum RevocationStatus: Sendable, Hashable {
    /// No OCSP or CRL check was made (`revocation_check_mode = SKIP`, or not yet).
    case notChecked
    /// Every checked certificate is known not to be revoked.
    case good
    /// The certificate at `depth` (0 = leaf) is revoked.
    case revoked(depth: Int, source: RevocationSource, reason: String)
    /// Nothing is revoked as far as known, but the certificate at `depth` could not be checked.
    case unknown(depth: Int, problem: RevocationProblem)

    /// `not_checked`, `good`, `revoked` or `unknown`.
    package var label: String {
        switch self {
        case .notChecked: "not_checked"
        case .good: "good"
        case .revoked: "revoked"
        case .unknown: "unknown"
        }
    }

    /// One line for logs and `portcullis verify`.
    package var summary: String {
        switch self {
        case .notChecked: "not checked"
        case .good: "good (not revoked)"
        case .revoked(let depth, let source, let reason):
            "revoked: \(Self.position(depth)) (\(reason), by \(source.rawValue.uppercased()))"
        case .unknown(let depth, let problem):
            "unknown: \(Self.position(depth)): \(problem)"
        }
    }

    private static func position(_ depth: Int) -> String { depth == 0 ? "leaf" : "CA certificate at depth \(depth)" }

    /// Combines per-certificate answers, leaf first: the first revocation wins, then the first unknown.
    package static func combine(_ results: [CertificateRevocation]) -> RevocationStatus {
        for (depth, result) in results.enumerated() {
            if case .revoked(let source, let reason) = result {
                return .revoked(depth: depth, source: source, reason: reason)
            }
        }
        for (depth, result) in results.enumerated() {
            if case .unknown(let problem) = result { return .unknown(depth: depth, problem: problem) }
        }
        return results.isEmpty ? .notChecked : .good
    }
}

/// RFC 5280 CRLReason names.
enum CRLReason {
    static func name(_ code: Int) -> String {
        switch code {
        case 0: "unspecified"
        case 1: "keyCompromise"
        case 2: "cACompromise"
        case 3: "affiliationChanged"
        case 4: "superseded"
        case 5: "cessationOfOperation"
        case 6: "certificateHold"
        case 8: "removeFromCRL"
        case 9: "privilegeWithdrawn"
        case 10: "aACompromise"
        default: "unspecified"
        }
    }
}

/// `revocation_check_mode`: what a revocation status means for a verified chain (Kong's semantics).
package enum RevocationCheckMode: String, Sendable, Hashable, CaseIterable {
    /// No check at all.
    case skip = "SKIP"
    /// Revoked is refused; unknown (no responder, unreachable, timeout, bad response) is accepted.
    case ignoreCAError = "IGNORE_CA_ERROR"
    /// Revoked and unknown are refused.
    case strict = "STRICT"

    /// The outcome label (`revoked`, `verify_failed:revocation_unavailable`) when `status` refuses the chain; nil
    /// when it is accepted.
    package func refusal(for status: RevocationStatus) -> String? {
        switch status {
        case .revoked: "revoked"
        case .unknown where self == .strict: "verify_failed:revocation_unavailable"
        case .notChecked, .good, .unknown: nil
        }
    }
}
