import Synchronization

/// Intermediate CA certificates that completed a verified path, parsed once and reused by later verifications.
///
/// In OpenSSL 3.0 parsing one certificate (`d2i_X509`) costs several RSA-2048 signature checks (≈ 140 µs
/// against ≈ 20 µs on our machines), most of it building a provider decoder for the public key. Every client of one issuing CA presents the same
/// intermediate, so a verification of a new client certificate (a verdict-cache miss) only has to parse its
/// leaf. Entries are keyed by the exact DER bytes, so a hit is the object a fresh parse would give.
///
/// - Admission: only intermediates that ended up in a verified path (``ChainVerifier`` inserts them after
///   success), so a client sending garbage or unrelated CAs cannot fill the cache.
/// - Bound: at most ``capacity`` entries; when full, an arbitrary entry makes room (the working set is the handful
///   of issuing CAs behind one trust store).
/// - Concurrency: the parsed objects are shared across threads read-only. `X509Certificate.init` has OpenSSL
///   compute its cached extension data, and the verifier only reads them afterwards; the ``TrustStore`` shares
///   its anchors the same way.
final class IntermediateCache: Sendable {
    /// A cached certificate: shared read-only (see above).
    private struct Entry: @unchecked Sendable {
        let certificate: X509Certificate
    }

    /// The DER bytes, hashed in one pass (an array of bytes hashes byte by byte).
    private struct Key: Hashable, Sendable {
        let der: [UInt8]

        func hash(into hasher: inout Hasher) {
            self.der.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }

    let capacity: Int
    private let entries: Mutex<[Key: Entry]>

    init(capacity: Int = 64) {
        self.capacity = max(1, capacity)
        self.entries = Mutex([:])
    }

    /// The parsed certificate of exactly these DER bytes, if it is cached.
    func lookup(_ der: [UInt8]) -> X509Certificate? {
        self.entries.withLock { $0[Key(der: der)] }?.certificate
    }

    /// Keeps `certificate`, parsed from `der`, for later verifications.
    func insert(_ certificate: X509Certificate, der: [UInt8]) {
        let key = Key(der: der)
        self.entries.withLock { entries in
            guard entries[key] == nil else { return }
            if entries.count >= self.capacity, let victim = entries.keys.first {
                entries[victim] = nil
            }
            entries[key] = Entry(certificate: certificate)
        }
    }

    /// Number of cached certificates.
    var count: Int { self.entries.withLock { $0.count } }
}
