extension HeaderDecoder {
    /// `base64_encoded`: base64 of the leaf's DER (Kong's documented form), optionally followed by the DER of
    /// intermediates, or base64 of a PEM text (one block or a chain). Whitespace inside the base64 is tolerated;
    /// `=` padding is optional.
    func decodeBase64(_ value: ArraySlice<UInt8>) throws(HeaderDecodingError) -> [[UInt8]] {
        guard let bytes = Base64.decode(value, allowWhitespace: true, requirePadding: false) else {
            throw HeaderDecodingError(.malformed, "invalid base64")
        }
        if bytes.first == 0x30 {
            guard let certificates = DERFraming.split(bytes, max: self.limits.maxCertificates) else {
                if DERFraming.split(bytes, max: Int.max) != nil {
                    throw HeaderDecodingError(.tooManyCertificates,
                                              "more than \(self.limits.maxCertificates) certificates")
                }
                throw HeaderDecodingError(.malformed, "truncated or trailing data after DER")
            }
            return certificates
        }
        if PEMCertificates.looksLikePEM(bytes) {
            return try PEMCertificates.parse(bytes, maxCertificates: self.limits.maxCertificates)
        }
        throw HeaderDecodingError(.notACertificate, "base64 content is neither DER nor PEM")
    }
}
