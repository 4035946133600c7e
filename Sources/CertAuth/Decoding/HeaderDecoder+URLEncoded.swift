extension HeaderDecoder {
    /// `url_encoded`: percent-encoded PEM, one block or a chain, leaf first (AWS ALB, nginx
    /// `$ssl_client_escaped_cert`, Kong's own test fixtures). `+ = /` may be escaped or not; line ends may be
    /// `%0A` or `%0D%0A`, with or without a trailing one.
    func decodeURLEncoded(_ value: ArraySlice<UInt8>) throws(HeaderDecodingError) -> [[UInt8]] {
        let pem = try PercentDecoding.decode(value)
        return try PEMCertificates.parse(pem, maxCertificates: self.limits.maxCertificates)
    }
}
