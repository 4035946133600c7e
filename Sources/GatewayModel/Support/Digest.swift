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
