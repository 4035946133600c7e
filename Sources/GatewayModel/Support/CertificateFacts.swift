import COpenSSL
import Foundation

/// What the control plane checks about an uploaded CA certificate, read with libcrypto.
package struct CertificateFacts: Sendable {
    /// SHA-256 of the DER encoding, lowercase hex (Kong's `cert_digest`).
    package var digest: String
    /// Seconds since the epoch.
    package var notAfter: Int64
    package var notBefore: Int64
    /// The basicConstraints extension says `CA:TRUE`.
    package var isCA: Bool
    package var subject: String

    /// Why a PEM text is not one usable certificate.
    package struct Problem: Error, Sendable, Equatable {
        package var message: String
    }

    /// Parses exactly one PEM certificate.
    package static func parse(pem: String) throws(Problem) -> CertificateFacts {
        let blocks = pem.components(separatedBy: "-----BEGIN CERTIFICATE-----").count - 1
        if blocks == 0 { throw Problem(message: "invalid certificate: no PEM certificate found") }
        if blocks > 1 { throw Problem(message: "please submit only one certificate at a time") }
        let bytes = Array(pem.utf8)
        let parsed: OpaquePointer? = bytes.withUnsafeBufferPointer { buf in
            guard let bio = BIO_new_mem_buf(buf.baseAddress, Int32(buf.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_X509(bio, nil, nil, nil)
        }
        guard let x509 = parsed else {
            let reason = Self.drainErrors()
            throw Problem(message: "invalid certificate: \(reason.isEmpty ? "cannot be parsed" : reason)")
        }
        defer { X509_free(x509) }
        ERR_clear_error()

        var derPtr: UnsafeMutablePointer<UInt8>? = nil
        let derLen = i2d_X509(x509, &derPtr)
        guard derLen > 0, let derPtr else { throw Problem(message: "invalid certificate: cannot be re-encoded") }
        let der = Array(UnsafeBufferPointer(start: derPtr, count: Int(derLen)))
        pc_OPENSSL_free(derPtr)

        let flags = X509_get_extension_flags(x509)
        let isCA = (flags & UInt32(EXFLAG_CA)) != 0
        let notAfter = Self.unixTime(X509_get0_notAfter(x509))
        let notBefore = Self.unixTime(X509_get0_notBefore(x509))
        var subject = ""
        if let name = X509_get_subject_name(x509), let s = X509_NAME_oneline(name, nil, 0) {
            subject = String(cString: s)
            pc_OPENSSL_free(s)
        }
        return CertificateFacts(
            digest: Digest.sha256Hex(der), notAfter: notAfter, notBefore: notBefore, isCA: isCA, subject: subject)
    }

    private static func unixTime(_ t: UnsafePointer<ASN1_TIME>?) -> Int64 {
        guard let t else { return 0 }
        var tm = tm()
        guard ASN1_TIME_to_tm(t, &tm) == 1 else { return 0 }
        return Int64(timegm(&tm))
    }

    /// Drains OpenSSL's (thread-local) error queue into one line of reasons.
    package static func drainErrors() -> String {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if let r = ERR_reason_error_string(code) { reasons.append(String(cString: r)) }
        }
        return reasons.joined(separator: "; ")
    }
}
