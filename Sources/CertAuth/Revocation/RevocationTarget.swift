import COpenSSL
import GatewayModel

/// One certificate whose revocation state is to be checked, with its issuer and where to ask.
///
/// Built by ``ChainVerifier`` from the verified path (each certificate but the anchor), so the DER bytes and the
/// URLs are read once per verification, not per request.
package struct RevocationTarget: Sendable, Hashable {
    /// Position in the verified path (0 = leaf).
    package var depth: Int
    /// The certificate and its issuer (the next certificate of the verified path), DER.
    package var certificate: [UInt8]
    package var issuer: [UInt8]
    /// Uppercase hex, for logs.
    package var serialNumber: String
    /// OCSP responder URLs from the authorityInfoAccess extension, in certificate order.
    package var ocspURLs: [String]
    /// fullName URIs of the CRL distribution points (those limited to some reasons or with a separate CRL issuer
    /// are left out: we do not handle partial or indirect CRLs).
    package var crlURLs: [String]
    /// The cache key: SHA-256 of the issuer's DER and the serial number.
    package var key: String

    package init(depth: Int, certificate: [UInt8], issuer: [UInt8], serialNumber: String, ocspURLs: [String],
                 crlURLs: [String])
    {
        self.depth = depth
        self.certificate = certificate
        self.issuer = issuer
        self.serialNumber = serialNumber
        self.ocspURLs = ocspURLs
        self.crlURLs = crlURLs
        self.key = Digest.sha256Hex(issuer) + ":" + serialNumber
    }

    /// The targets of a verified path (`X509_STORE_CTX_get0_chain`): every certificate except the last (the anchor).
    static func targets(path: OpaquePointer) -> [RevocationTarget] {
        let count = Int(pc_sk_X509_num(path))
        guard count >= 2 else { return [] }
        var targets: [RevocationTarget] = []
        for i in 0..<(count - 1) {
            guard let cert = pc_sk_X509_value(path, Int32(i)), let issuer = pc_sk_X509_value(path, Int32(i + 1))
            else { continue }
            targets.append(RevocationTarget(
                depth: i, certificate: Self.der(cert), issuer: Self.der(issuer),
                serialNumber: Self.serialHex(cert), ocspURLs: Self.ocspURLs(cert), crlURLs: Self.crlURLs(cert)))
        }
        return targets
    }

    static func der(_ x509: OpaquePointer) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>? = nil
        let len = i2d_X509(x509, &out)
        guard len > 0, let out else { return [] }
        defer { pc_OPENSSL_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(len)))
    }

    static func serialHex(_ x509: OpaquePointer) -> String {
        let bytes = OpenSSLValues.bytes(X509_get0_serialNumber(x509))
        let digits: [Character] = Array("0123456789ABCDEF")
        var hex = ""
        for b in bytes {
            hex.append(digits[Int(b >> 4)])
            hex.append(digits[Int(b & 0x0F)])
        }
        return hex.isEmpty ? "00" : hex
    }

    static func ocspURLs(_ x509: OpaquePointer) -> [String] {
        guard let stack = X509_get1_ocsp(x509) else {
            ERR_clear_error()
            return []
        }
        defer { X509_email_free(stack) }
        var urls: [String] = []
        for i in 0..<pc_sk_OPENSSL_STRING_num(stack) {
            if let s = pc_sk_OPENSSL_STRING_value(stack, i) { urls.append(String(cString: s)) }
        }
        return urls
    }

    static func crlURLs(_ x509: OpaquePointer) -> [String] {
        guard let raw = X509_get_ext_d2i(x509, NID_crl_distribution_points, nil, nil) else {
            ERR_clear_error()
            return []
        }
        let points = OpaquePointer(raw)
        defer { CRL_DIST_POINTS_free(points) }
        var urls: [String] = []
        for i in 0..<pc_sk_DIST_POINT_num(points) {
            guard let point = pc_sk_DIST_POINT_value(points, i), pc_DIST_POINT_is_partial(point) == 0,
                  let names = pc_DIST_POINT_fullname(point)
            else { continue }
            for j in 0..<pc_sk_GENERAL_NAME_num(names) {
                guard let name = pc_sk_GENERAL_NAME_value(names, j), pc_GENERAL_NAME_type(name) == GEN_URI,
                      let value = pc_GENERAL_NAME_string(name)
                else { continue }
                let bytes = OpenSSLValues.bytes(value)
                if let url = String(validating: bytes, as: UTF8.self) { urls.append(url) }
            }
        }
        return urls
    }
}
