import COpenSSL

/// A verdict-cache key: SHA-256 over the verifier identity, the header format and the raw header bytes.
///
/// Computed from the header as received, before any decoding, so a cache hit skips decoding as well as OpenSSL.
package struct VerdictCacheKey: Hashable, Sendable {
    private var a: UInt64 = 0
    private var b: UInt64 = 0
    private var c: UInt64 = 0
    private var d: UInt64 = 0

    // Fetched once: OpenSSL 3 would otherwise look the implementation up in its provider on every call.
    private nonisolated(unsafe) static let sha256: OpaquePointer? = EVP_MD_fetch(nil, "SHA256", nil)

    /// - Parameters:
    ///   - verifier: ``ChainVerifier/identity`` (trust store + options).
    ///   - format: the header format.
    ///   - header: the certificate header value.
    ///   - chain: the second header of ``CertificateHeaderFormat/rfc9440``, if any.
    /// - Returns: nil only if libcrypto cannot allocate a digest context.
    package init?(verifier: [UInt8], format: CertificateHeaderFormat, header: String, chain: String? = nil) {
        var header = header
        guard let key = header.withUTF8({
            VerdictCacheKey(verifier: verifier, format: format, headerBytes: UnsafeRawBufferPointer($0), chain: chain)
        }) else { return nil }
        self = key
    }

    /// The same, from the header's bytes (as received: no string made).
    package init?(verifier: [UInt8], format: CertificateHeaderFormat, headerBytes header: UnsafeRawBufferPointer,
                  chain: String? = nil)
    {
        guard let ctx = EVP_MD_CTX_new() else { return nil }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestInit_ex2(ctx, Self.sha256 ?? EVP_sha256(), nil) == 1 else { return nil }
        var ok = verifier.withUnsafeBytes { EVP_DigestUpdate(ctx, $0.baseAddress, $0.count) == 1 }
        var tag: (UInt8, UInt8) = (format.cacheTag, chain == nil ? 0 : 1)
        ok = ok && withUnsafeBytes(of: &tag) { EVP_DigestUpdate(ctx, $0.baseAddress, $0.count) == 1 }
        ok = ok && EVP_DigestUpdate(ctx, header.baseAddress, header.count) == 1
        if let chain {
            // The header cannot contain NUL (HTTP field values exclude it), so it separates the two unambiguously.
            var zero: UInt8 = 0
            ok = ok && EVP_DigestUpdate(ctx, &zero, 1) == 1 && Self.update(ctx, chain)
        }
        guard ok else { return nil }
        var len: UInt32 = 0
        let done = withUnsafeMutableBytes(of: &self) { out -> Bool in
            EVP_DigestFinal_ex(ctx, out.baseAddress?.assumingMemoryBound(to: UInt8.self), &len) == 1
        }
        guard done, len == 32 else { return nil }
    }

    private static func update(_ ctx: OpaquePointer, _ s: String) -> Bool {
        if let ok = s.utf8.withContiguousStorageIfAvailable({ EVP_DigestUpdate(ctx, $0.baseAddress, $0.count) == 1 }) {
            return ok
        }
        let bytes = Array(s.utf8)
        return bytes.withUnsafeBytes { EVP_DigestUpdate(ctx, $0.baseAddress, $0.count) == 1 }
    }
}
