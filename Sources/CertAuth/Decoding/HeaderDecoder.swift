/// Turns the value of a certificate header into a ``PresentedChain`` (leaf + untrusted intermediates, DER).
///
/// Every format is decoded strictly and within ``Limits``: a header that is too large, carries too many
/// certificates, or decodes to nothing usable throws a ``HeaderDecodingError`` — never a crash, never a partial
/// result. Decoding does not verify anything; see ``ChainVerifier``.
///
/// ```swift
/// let decoder = HeaderDecoder(format: .urlEncoded)
/// let chain = try decoder.decode(request.headerFields[name] ?? "")
/// ```
package struct HeaderDecoder: Sendable, Hashable {
    /// Bounds on untrusted input.
    package struct Limits: Sendable, Hashable {
        /// Maximum size of one header value in bytes (before decoding). Kong advises 24 KiB header buffers.
        package var maxHeaderBytes: Int
        /// Maximum number of certificates, leaf included.
        package var maxCertificates: Int

        package init(maxHeaderBytes: Int = 32 * 1024, maxCertificates: Int = 8) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxCertificates = maxCertificates
        }
    }

    package var format: CertificateHeaderFormat
    package var limits: Limits

    package init(format: CertificateHeaderFormat, limits: Limits = Limits()) {
        self.format = format
        self.limits = limits
    }

    /// Decodes a header value.
    ///
    /// - Parameters:
    ///   - value: the certificate header (for ``CertificateHeaderFormat/rfc9440``: `Client-Cert`).
    ///   - chain: only for ``CertificateHeaderFormat/rfc9440``: the `Client-Cert-Chain` header, if present
    ///     (several field lines joined with `,`). Ignored by the other formats.
    /// - Throws: ``HeaderDecodingError``.
    package func decode(_ value: String, chain: String? = nil) throws(HeaderDecodingError) -> PresentedChain {
        try self.checkSize(value.utf8.count)
        if let chain { try self.checkSize(chain.utf8.count) }
        return try self.decode(bytes: Array(value.utf8), chain: chain.map { Array($0.utf8) })
    }

    /// Decodes a header value given as bytes; see ``decode(_:chain:)``.
    package func decode(bytes value: [UInt8], chain: [UInt8]? = nil) throws(HeaderDecodingError) -> PresentedChain {
        try self.checkSize(value.count)
        let trimmed = Self.trimmed(value)
        if trimmed.isEmpty { throw HeaderDecodingError(.empty, "empty header") }
        let certificates: [[UInt8]]
        switch self.format {
        case .urlEncoded:
            certificates = try self.decodeURLEncoded(trimmed)
        case .base64Encoded:
            certificates = try self.decodeBase64(trimmed)
        case .rfc9440:
            if let chain { try self.checkSize(chain.count) }
            certificates = try self.decodeRFC9440(trimmed, chain: chain.map(Self.trimmed))
        case .xfcc:
            certificates = try self.decodeXFCC(trimmed)
        }
        guard certificates.count <= self.limits.maxCertificates else {
            throw HeaderDecodingError(.tooManyCertificates, "more than \(self.limits.maxCertificates) certificates")
        }
        guard let chain = PresentedChain(certificates: certificates) else {
            throw HeaderDecodingError(.noCertificate, "no certificate in header")
        }
        return chain
    }

    private func checkSize(_ count: Int) throws(HeaderDecodingError) {
        guard count <= self.limits.maxHeaderBytes else {
            throw HeaderDecodingError(.tooLarge, "header of \(count) bytes exceeds \(self.limits.maxHeaderBytes)")
        }
    }

    /// Without leading and trailing optional whitespace (SP, HTAB), as HTTP field values are defined.
    static func trimmed(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        var lo = bytes.startIndex
        var hi = bytes.endIndex
        while lo < hi, bytes[lo] == UInt8(ascii: " ") || bytes[lo] == UInt8(ascii: "\t") { lo += 1 }
        while hi > lo, bytes[hi - 1] == UInt8(ascii: " ") || bytes[hi - 1] == UInt8(ascii: "\t") { hi -= 1 }
        return bytes[lo..<hi]
    }
}
