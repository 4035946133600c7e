/// Decode, cache and verify in one call: what the header-cert-auth plugin runs per request.
///
/// One instance per plugin instance per configuration snapshot; thread-safe. Steps: digest the raw header into a
/// ``VerdictCacheKey``; on a hit return the cached verdict; otherwise decode (``HeaderDecoder``), verify
/// (``ChainVerifier``) and cache the verdict. Decoding failures are not cached: they cost no OpenSSL call.
package final class HeaderCertificateAuthenticator: Sendable {
    /// The result of one authentication.
    package enum Outcome: Sendable, Hashable {
        /// A verdict, fresh or from the cache.
        case verdict(Verdict, cached: Bool)
        /// The header could not be decoded (Kong answers 500 here; we recommend 401).
        case undecodable(HeaderDecodingError)

        /// A metric label: `ok`, `verify_failed:<reason>` or `decode_failed:<reason>`.
        package var metricLabel: String {
            switch self {
            case .verdict(.trusted, _): "ok"
            case .verdict(.rejected(let f), _): f.metricLabel
            case .undecodable(let e): e.metricLabel
            }
        }
    }

    package let decoder: HeaderDecoder
    package let verifier: ChainVerifier
    package let cache: VerdictCache

    package init(decoder: HeaderDecoder, verifier: ChainVerifier, cache: VerdictCache) {
        self.decoder = decoder
        self.verifier = verifier
        self.cache = cache
    }

    /// The cached verdict for `header` (the value's bytes) at `now`, if there is one: no decoding, no OpenSSL call, nothing inserted.
    /// (For callers that take a quicker path on a hit and go through ``authenticate(header:chain:now:)`` otherwise.)
    package func cachedVerdict(header: UnsafeRawBufferPointer, now: Int64) -> Verdict? {
        guard self.decoder.format != .rfc9440, header.count <= self.decoder.limits.maxHeaderBytes,
              let key = VerdictCacheKey(verifier: self.verifier.identity, format: self.decoder.format,
                                        headerBytes: header, chain: nil)
        else { return nil }
        return self.cache.lookup(key, now: now)
    }

    /// Authenticates one request's certificate header at `now` (seconds since the epoch).
    ///
    /// - Parameters:
    ///   - header: the configured certificate header's value.
    ///   - chain: for ``CertificateHeaderFormat/rfc9440`` only, the `Client-Cert-Chain` value.
    package func authenticate(header: String, chain: String? = nil, now: Int64) -> Outcome {
        // Oversized headers are refused before hashing them.
        let limit = self.decoder.limits.maxHeaderBytes
        guard header.utf8.count <= limit, (chain?.utf8.count ?? 0) <= limit else {
            return .undecodable(HeaderDecodingError(.tooLarge, "header exceeds \(limit) bytes"))
        }
        let chain = self.decoder.format == .rfc9440 ? chain : nil
        let key = VerdictCacheKey(verifier: self.verifier.identity, format: self.decoder.format, header: header,
                                  chain: chain)
        if let key, let verdict = self.cache.lookup(key, now: now) { return .verdict(verdict, cached: true) }
        let presented: PresentedChain
        do {
            presented = try self.decoder.decode(header, chain: chain)
        } catch {
            return .undecodable(error)
        }
        let verdict = self.verifier.verify(presented, at: now)
        if let key { self.cache.insert(verdict, for: key, now: now) }
        return .verdict(verdict, cached: false)
    }
}
