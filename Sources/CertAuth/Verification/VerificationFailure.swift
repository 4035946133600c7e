import COpenSSL

/// Why a presented chain was not accepted.
///
/// ``reason`` is short and stable (a metric label, ``metricLabel`` = `verify_failed:<reason>`); ``message`` is
/// OpenSSL's text or ours, for logs only — never for the client.
package struct VerificationFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, short failure reason.
    package struct Reason: Sendable, Hashable, CustomStringConvertible {
        package let label: String
        private init(_ label: String) { self.label = label }
        package var description: String { self.label }

        /// A certificate is not parsable DER (or has trailing bytes).
        package static let malformed = Reason("malformed")
        /// Validity ended before the verification time.
        package static let expired = Reason("expired")
        /// Validity starts after the verification time.
        package static let notYetValid = Reason("not_yet_valid")
        /// No path to a configured CA (missing intermediate, unknown or self-signed issuer).
        package static let unknownCA = Reason("unknown_ca")
        /// A signature does not verify, or an issuer key cannot be decoded.
        package static let badSignature = Reason("bad_signature")
        /// Key usage or extended key usage does not allow TLS client authentication.
        package static let purpose = Reason("purpose")
        /// The leaf is itself a CA certificate (basicConstraints CA:TRUE or keyCertSign).
        package static let leafIsCA = Reason("leaf_is_ca")
        /// An issuer in the path is not a valid CA.
        package static let invalidCA = Reason("invalid_ca")
        /// Path length constraint violated.
        package static let pathLength = Reason("path_length")
        /// More intermediates than allowed.
        package static let chainTooLong = Reason("chain_too_long")
        /// An unrecognised critical extension.
        package static let criticalExtension = Reason("critical_extension")
        /// An extension is malformed, duplicated or inconsistent.
        package static let invalidExtension = Reason("invalid_extension")
        /// Name constraints violated or unsupported.
        package static let nameConstraints = Reason("name_constraints")
        /// Certificate policy processing failed.
        package static let policy = Reason("policy")
        /// A key or signature digest is below the configured security level.
        package static let weakKey = Reason("weak_key")
        /// Violates RFC 5280 profile rules OpenSSL enforces with `X509_V_FLAG_X509_STRICT` (missing key
        /// identifiers, non-critical basicConstraints on a CA, empty names, v1 with extensions, …).
        package static let nonConforming = Reason("non_conforming")
        /// Serial number not a positive integer of at most 20 octets (RFC 5280 §4.1.2.2).
        package static let badSerial = Reason("bad_serial")
        /// A subject CN or SAN value cannot be used safely (embedded NUL, control characters, bad IP length).
        package static let invalidName = Reason("invalid_name")
        /// Revoked (reserved for the revocation checker).
        package static let revoked = Reason("revoked")
        /// Any other OpenSSL verification error.
        package static let other = Reason("other")
    }

    package var reason: Reason
    /// For logs: OpenSSL's `X509_verify_cert_error_string`, or our own explanation.
    package var message: String
    /// Position in the chain of the offending certificate (0 = leaf), when known.
    package var depth: Int?
    /// OpenSSL's `X509_V_ERR_*` code, when OpenSSL produced the failure.
    package var openSSLError: Int32?
    /// A time (seconds since the epoch) at which the outcome may change (e.g. a not-yet-valid certificate's
    /// notBefore); caches must not keep the verdict beyond it.
    package var reconsiderAt: Int64?

    package init(_ reason: Reason, _ message: String, depth: Int? = nil, openSSLError: Int32? = nil,
                 reconsiderAt: Int64? = nil) {
        self.reason = reason
        self.message = message
        self.depth = depth
        self.openSSLError = openSSLError
        self.reconsiderAt = reconsiderAt
    }

    /// `verify_failed:<reason>`.
    package var metricLabel: String { "verify_failed:\(self.reason.label)" }

    package var description: String {
        "\(self.metricLabel): \(self.message)" + (self.depth.map { " (depth \($0))" } ?? "")
    }
}

extension VerificationFailure.Reason {
    /// Maps OpenSSL's `X509_V_ERR_*` to a reason.
    static func fromOpenSSL(_ code: Int32) -> Self {
        switch code {
        case X509_V_ERR_CERT_HAS_EXPIRED: .expired
        case X509_V_ERR_CERT_NOT_YET_VALID: .notYetValid
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
            X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
            X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_CERT_UNTRUSTED, X509_V_ERR_CERT_REJECTED,
            X509_V_ERR_SUBJECT_ISSUER_MISMATCH, X509_V_ERR_AKID_SKID_MISMATCH,
            X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH, X509_V_ERR_PATH_LOOP:
            .unknownCA
        case X509_V_ERR_CERT_SIGNATURE_FAILURE, X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE,
            X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY, X509_V_ERR_NO_ISSUER_PUBLIC_KEY,
            X509_V_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM, X509_V_ERR_SIGNATURE_ALGORITHM_MISMATCH,
            X509_V_ERR_SIGNATURE_ALGORITHM_INCONSISTENCY:
            .badSignature
        case X509_V_ERR_INVALID_PURPOSE, X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
            .purpose
        case X509_V_ERR_INVALID_CA, X509_V_ERR_INVALID_NON_CA, X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
            .invalidCA
        case X509_V_ERR_PATH_LENGTH_EXCEEDED, X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED:
            .pathLength
        case X509_V_ERR_CERT_CHAIN_TOO_LONG:
            .chainTooLong
        case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
            .criticalExtension
        case X509_V_ERR_INVALID_EXTENSION, X509_V_ERR_UNSUPPORTED_EXTENSION_FEATURE,
            X509_V_ERR_PROXY_CERTIFICATES_NOT_ALLOWED:
            .invalidExtension
        case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD, X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
            .nonConforming
        case X509_V_ERR_PERMITTED_VIOLATION, X509_V_ERR_EXCLUDED_VIOLATION, X509_V_ERR_SUBTREE_MINMAX,
            X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE, X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX,
            X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
            .nameConstraints
        case X509_V_ERR_INVALID_POLICY_EXTENSION, X509_V_ERR_NO_EXPLICIT_POLICY:
            .policy
        case X509_V_ERR_EE_KEY_TOO_SMALL, X509_V_ERR_CA_KEY_TOO_SMALL, X509_V_ERR_CA_MD_TOO_WEAK:
            .weakKey
        case X509_V_ERR_PATHLEN_INVALID_FOR_NON_CA, X509_V_ERR_PATHLEN_WITHOUT_KU_KEY_CERT_SIGN,
            X509_V_ERR_KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA, X509_V_ERR_ISSUER_NAME_EMPTY,
            X509_V_ERR_SUBJECT_NAME_EMPTY, X509_V_ERR_MISSING_AUTHORITY_KEY_IDENTIFIER,
            X509_V_ERR_MISSING_SUBJECT_KEY_IDENTIFIER, X509_V_ERR_EMPTY_SUBJECT_ALT_NAME,
            X509_V_ERR_EMPTY_SUBJECT_SAN_NOT_CRITICAL, X509_V_ERR_CA_BCONS_NOT_CRITICAL,
            X509_V_ERR_AUTHORITY_KEY_IDENTIFIER_CRITICAL, X509_V_ERR_SUBJECT_KEY_IDENTIFIER_CRITICAL,
            X509_V_ERR_CA_CERT_MISSING_KEY_USAGE, X509_V_ERR_EXTENSIONS_REQUIRE_VERSION_3,
            X509_V_ERR_EC_KEY_EXPLICIT_PARAMS:
            .nonConforming
        case X509_V_ERR_CERT_REVOKED:
            .revoked
        default:
            .other
        }
    }
}
