import COpenSSL

/// Builds OCSP requests and judges OCSP responses for one certificate, with OpenSSL's `OCSP_*` functions.
///
/// A response counts only if it is `successful`, its signature verifies (`OCSP_basic_verify`: signed by the issuer
/// itself, or by a responder certificate the issuer delegated with the `OCSPSigning` extended key usage and that
/// chains to the trust store), it carries a status for exactly this certificate ID, and that status is inside its
/// thisUpdate/nextUpdate window (`OCSP_check_validity`, five minutes of clock skew allowed). Anything else is
/// ``CertificateRevocation/unknown(_:)``, never `good`. No nonce is sent: responses may come from responder caches
/// (RFC 5019), and the validity window bounds replay.
enum OCSPExchange {
    /// Allowed clock difference with the responder, in seconds.
    static let skew = 300

    /// The DER of an OCSP request for `target` (SHA-1 certificate ID, as RFC 5019 responders expect).
    static func request(for target: RevocationTarget) -> Result<[UInt8], RevocationProblem> {
        ERR_clear_error()
        defer { ERR_clear_error() }
        guard let cert = X509Certificate(der: target.certificate), let issuer = X509Certificate(der: target.issuer)
        else { return .failure(RevocationProblem(.internal, "cannot reparse the certificate or its issuer")) }
        return withExtendedLifetime((cert, issuer)) {
            guard let request = OCSP_REQUEST_new() else {
                return .failure(RevocationProblem(.internal, "OCSP_REQUEST_new failed"))
            }
            defer { OCSP_REQUEST_free(request) }
            guard let id = OCSP_cert_to_id(EVP_sha1(), cert.pointer, issuer.pointer) else {
                return .failure(RevocationProblem(.internal, "OCSP_cert_to_id failed"))
            }
            guard OCSP_request_add0_id(request, id) != nil else {  // the request owns `id` from here
                OCSP_CERTID_free(id)
                return .failure(RevocationProblem(.internal, "OCSP_request_add0_id failed"))
            }
            var out: UnsafeMutablePointer<UInt8>? = nil
            let len = i2d_OCSP_REQUEST(request, &out)
            guard len > 0, let out else { return .failure(RevocationProblem(.internal, "i2d_OCSP_REQUEST failed")) }
            defer { pc_OPENSSL_free(out) }
            return .success(Array(UnsafeBufferPointer(start: out, count: Int(len))))
        }
    }

    /// Judges a response body for `target`.
    ///
    /// - Returns: the certificate's state and, for a definite answer, the response's nextUpdate (seconds since the
    ///   epoch) when it has one.
    static func evaluate(_ body: [UInt8], for target: RevocationTarget, trust: RevocationTrust)
        -> (CertificateRevocation, nextUpdate: Int64?)
    {
        ERR_clear_error()
        defer { ERR_clear_error() }
        func unknown(_ code: RevocationProblem.Code, _ message: String) -> (CertificateRevocation, nextUpdate: Int64?) {
            (.unknown(RevocationProblem(code, message)), nil)
        }
        guard let cert = X509Certificate(der: target.certificate), let issuer = X509Certificate(der: target.issuer)
        else { return unknown(.internal, "cannot reparse the certificate or its issuer") }

        let parsed: OpaquePointer? = body.withUnsafeBufferPointer { buf -> OpaquePointer? in
            guard let base = buf.baseAddress, buf.count > 0 else { return nil }
            var p: UnsafePointer<UInt8>? = base
            return d2i_OCSP_RESPONSE(nil, &p, buf.count)
        }
        guard let response = parsed else { return unknown(.badResponse, "OCSP response is not parsable DER") }
        defer { OCSP_RESPONSE_free(response) }
        let status = OCSP_response_status(response)
        guard status == OCSP_RESPONSE_STATUS_SUCCESSFUL else {
            let text = OCSP_response_status_str(Int(status)).map { String(cString: $0) } ?? "\(status)"
            return unknown(.badResponse, "OCSP responder answered '\(text)'")
        }
        guard let basic = OCSP_response_get1_basic(response) else {
            return unknown(.badResponse, "OCSP response is not a basic response")
        }
        defer { OCSP_BASICRESP_free(basic) }

        return withExtendedLifetime((cert, issuer)) { () -> (CertificateRevocation, nextUpdate: Int64?) in
            // The issuer is trusted (it is in the verified path): a response it signed needs only the signature
            // check (OCSP_TRUSTOTHER); a delegated responder's certificate must chain to the trust store.
            guard let others = pc_sk_X509_new_null() else { return unknown(.internal, "sk_X509_new_null failed") }
            defer { pc_sk_X509_free(others) }
            guard pc_sk_X509_push(others, issuer.pointer) > 0 else { return unknown(.internal, "sk_X509_push failed") }
            guard OCSP_basic_verify(basic, others, trust.store, UInt(OCSP_TRUSTOTHER)) == 1 else {
                return unknown(.badSignature, "OCSP response signature: \(OpenSSLValues.drainErrors())")
            }
            guard let id = OCSP_cert_to_id(EVP_sha1(), cert.pointer, issuer.pointer) else {
                return unknown(.internal, "OCSP_cert_to_id failed")
            }
            defer { OCSP_CERTID_free(id) }
            var certStatus: Int32 = -1
            var reason: Int32 = -1
            var revokedAt: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>? = nil
            var thisUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>? = nil
            var nextUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>? = nil
            guard OCSP_resp_find_status(basic, id, &certStatus, &reason, &revokedAt, &thisUpdate, &nextUpdate) == 1
            else { return unknown(.badResponse, "OCSP response does not cover serial \(target.serialNumber)") }
            guard OCSP_check_validity(thisUpdate, nextUpdate, Int(Self.skew), -1) == 1 else {
                return unknown(.stale, "OCSP response is outside its thisUpdate/nextUpdate window")
            }
            let next = nextUpdate.flatMap { OpenSSLValues.unixTime(UnsafePointer($0)) }
            switch certStatus {
            case V_OCSP_CERTSTATUS_GOOD:
                return (.good(.ocsp), next)
            case V_OCSP_CERTSTATUS_REVOKED:
                return (.revoked(.ocsp, reason: CRLReason.name(Int(reason))), next)
            default:
                return unknown(.responderUnknown, "OCSP responder does not know serial \(target.serialNumber)")
            }
        }
    }
}

/// The trust store OCSP responder certificates are verified against: the plugin's CA certificates, with
/// `X509_V_FLAG_PARTIAL_CHAIN` when `allow_partial_chain` lets a configured intermediate be an anchor.
package final class RevocationTrust: @unchecked Sendable {
    let store: OpaquePointer

    package init?(_ trustStore: TrustStore, allowPartialChain: Bool) {
        guard let store = X509_STORE_new() else { return nil }
        for cert in trustStore.certificates where X509_STORE_add_cert(store, cert.pointer) != 1 {
            ERR_clear_error()  // a duplicate: already there (the store takes its own reference)
        }
        if allowPartialChain { X509_STORE_set_flags(store, UInt(X509_V_FLAG_PARTIAL_CHAIN)) }
        self.store = store
    }

    deinit { X509_STORE_free(self.store) }
}
