import Foundation

/// Kong ids: lowercase canonical UUID strings.
package enum UUIDString {
    package static func isValid(_ s: String) -> Bool {
        // Native strings are contiguous UTF-8 (checked in place); others are made so first.
        if let valid = s.utf8.withContiguousStorageIfAvailable(Self.isValid) { return valid }
        var s = s
        return s.withUTF8(Self.isValid)
    }

    private static func isValid(_ u: UnsafeBufferPointer<UInt8>) -> Bool {
        guard u.count == 36, u[8] == UInt8(ascii: "-"), u[13] == UInt8(ascii: "-"), u[18] == UInt8(ascii: "-"),
            u[23] == UInt8(ascii: "-")
        else { return false }
        // Every other byte a hex digit: no dash but those four, all in one pass without a branch per byte (every
        // id of a snapshot comes here).
        var bad: UInt8 = 0
        var dashes = 0
        for i in 0..<36 {
            let c = u[i]
            let dash = c == UInt8(ascii: "-")
            dashes &+= dash ? 1 : 0
            bad |= dash || Self.isHex(c) ? 0 : 1
        }
        return bad == 0 && dashes == 4
    }

    @inline(__always)
    private static func isHex(_ c: UInt8) -> Bool {
        // 0-9, a-f, A-F (`c | 0x20` is a letter in a-f exactly when c is in a-f or A-F).
        c &- UInt8(ascii: "0") < 10 || (c | 0x20) &- UInt8(ascii: "a") < 6
    }

    package static func random() -> String { UUID().uuidString.lowercased() }

    /// Our namespace for name-based (v5) ids of declarative entities that come without one.
    package static let namespace: [UInt8] = [
        0x5b, 0x6f, 0x0c, 0x51, 0x3a, 0x2e, 0x4d, 0x8a, 0x9b, 0x10, 0x6e, 0x27, 0xd4, 0x4c, 0x90, 0x1e,
    ]

    /// RFC 9562 version-5 UUID of `name` in ``namespace``: the same name always gives the same id.
    package static func v5(_ name: String) -> String {
        var digest = Digest.sha1(self.namespace + Array(name.utf8))
        digest[6] = (digest[6] & 0x0F) | 0x50
        digest[8] = (digest[8] & 0x3F) | 0x80
        let hex = digest.prefix(16).map { b -> String in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
        let h = Array(hex)
        return String(h[0..<8]) + "-" + String(h[8..<12]) + "-" + String(h[12..<16]) + "-" + String(h[16..<20]) + "-"
            + String(h[20..<32])
    }
}
