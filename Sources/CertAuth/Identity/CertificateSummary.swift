import COpenSSL
import GatewayModel

/// What a certificate says, read without verifying it: for `portcullis verify` and diagnostics.
package struct CertificateSummary: Sendable {
    /// The identity header-cert-auth would use; nil when a name is unsafe (then ``identityProblem`` says why).
    package var identity: CertificateIdentity?
    package var identityProblem: String?
    /// Subject and issuer in RFC 2253 form (`CN=…,O=…`).
    package var subject: String
    package var issuer: String
    /// Uppercase hex.
    package var serialNumber: String
    /// Seconds since the epoch.
    package var notBefore: Int64?
    package var notAfter: Int64?
    /// SHA-256 of the DER, lowercase hex.
    package var sha256: String
    /// The OCSP responders and CRL distribution points it names.
    package var ocspURLs: [String]
    package var crlURLs: [String]

    /// Reads one DER certificate; nil if OpenSSL cannot parse it.
    package init?(der: [UInt8]) {
        guard let cert = X509Certificate(der: der) else { return nil }
        let x = cert.pointer
        switch CertificateIdentity.read(x, der: der) {
        case .success(let identity):
            self.identity = identity
            self.identityProblem = nil
        case .failure(let failure):
            self.identity = nil
            self.identityProblem = failure.description
        }
        self.subject = Self.rfc2253(X509_get_subject_name(x))
        self.issuer = Self.rfc2253(X509_get_issuer_name(x))
        self.serialNumber = RevocationTarget.serialHex(x)
        self.notBefore = OpenSSLValues.unixTime(X509_get0_notBefore(x))
        self.notAfter = OpenSSLValues.unixTime(X509_get0_notAfter(x))
        self.sha256 = Digest.sha256Hex(der)
        self.ocspURLs = RevocationTarget.ocspURLs(x)
        self.crlURLs = RevocationTarget.crlURLs(x)
        ERR_clear_error()
    }

    static func rfc2253(_ name: OpaquePointer?) -> String {
        guard let name, let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        guard X509_NAME_print_ex(bio, name, 0, pc_XN_FLAG_RFC2253_UTF8()) >= 0 else {
            return ""
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            let n = chunk.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32($0.count)) }
            guard n > 0 else { break }
            bytes += chunk[0..<Int(n)]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
