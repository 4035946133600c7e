import COpenSSL

/// Message digests from the system libcrypto (the same library the data plane verifies certificates with).
package enum Digest {
    // Fetched once: OpenSSL 3 otherwise looks the implementation up in its provider on every call.
    private nonisolated(unsafe) static let sha256MD: OpaquePointer? = EVP_MD_fetch(nil, "SHA256", nil)
    private nonisolated(unsafe) static let sha1MD: OpaquePointer? = EVP_MD_fetch(nil, "SHA1", nil)

    package static func sha256(_ bytes: [UInt8]) -> [UInt8] { self.digest(bytes, self.sha256MD ?? EVP_sha256()) }
    package static func sha1(_ bytes: [UInt8]) -> [UInt8] { self.digest(bytes, self.sha1MD ?? EVP_sha1()) }

    package static func sha256Hex(_ bytes: [UInt8]) -> String { self.hex(self.sha256(bytes)) }

    private static func digest(_ bytes: [UInt8], _ md: OpaquePointer?) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var len: UInt32 = 0
        let ok = bytes.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { o in
                EVP_Digest(input.baseAddress, input.count, o.baseAddress, &len, md, nil)
            }
        }
        // EVP_Digest only fails on allocation failure inside libcrypto; an empty digest then surfaces as a
        // mismatch rather than a crash.
        guard ok == 1 else { return [] }
        return Array(out.prefix(Int(len)))
    }

    private static let hexDigits: [Character] = Array("0123456789abcdef")

    package static func hex(_ bytes: [UInt8]) -> String {
        var s = ""
        s.reserveCapacity(bytes.count * 2)
        for b in bytes {
            s.append(self.hexDigits[Int(b >> 4)])
            s.append(self.hexDigits[Int(b & 0xF)])
        }
        return s
    }
}

/// The SHA-256 of one configuration row: what snapshot hashes are built from (``ConfigHash``).
package struct RowDigest: Hashable, Sendable {
    package var a: UInt64
    package var b: UInt64
    package var c: UInt64
    package var d: UInt64

    package init(a: UInt64, b: UInt64, c: UInt64, d: UInt64) {
        self.a = a
        self.b = b
        self.c = c
        self.d = d
    }

    /// The digest's 32 bytes in order.
    package func append(to out: inout [UInt8]) {
        withUnsafeBytes(of: self) { out.append(contentsOf: $0) }
    }

    package var hex: String {
        var bytes: [UInt8] = []
        self.append(to: &bytes)
        return Digest.hex(bytes)
    }
}

/// A reusable SHA-256 context for hashing many small inputs (snapshot rows) without a context allocation each.
/// Not thread-safe: one per thread of work.
package final class RowHasher {
    private let ctx: OpaquePointer?
    private let md: OpaquePointer?

    package init() {
        self.ctx = EVP_MD_CTX_new()
        self.md = EVP_MD_fetch(nil, "SHA256", nil)
    }

    deinit {
        EVP_MD_CTX_free(self.ctx)
        EVP_MD_free(self.md)
    }

    package func digest(_ raw: UnsafeRawBufferPointer) -> RowDigest {
        var out = RowDigest(a: 0, b: 0, c: 0, d: 0)
        withUnsafeMutableBytes(of: &out) { o in
            var len: UInt32 = 0
            // Failures happen only when libcrypto cannot allocate; the zero digest then surfaces as a hash mismatch.
            guard EVP_DigestInit_ex2(self.ctx, self.md ?? EVP_sha256(), nil) == 1,
                EVP_DigestUpdate(self.ctx, raw.baseAddress, raw.count) == 1
            else { return }
            _ = EVP_DigestFinal_ex(self.ctx, o.baseAddress?.assumingMemoryBound(to: UInt8.self), &len)
        }
        return out
    }

    package func digest(_ bytes: [UInt8]) -> RowDigest { bytes.withUnsafeBytes { self.digest($0) } }
    package func digest(_ bytes: ArraySlice<UInt8>) -> RowDigest { bytes.withUnsafeBytes { self.digest($0) } }
}
