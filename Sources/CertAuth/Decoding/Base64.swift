/// A strict base64 decoder (RFC 4648 §4, standard alphabet).
///
/// Strict where it matters for authentication material: only alphabet characters, `=` only as final padding, no
/// non-zero pad bits, no stray data after padding. Optionally skips ASCII whitespace (PEM line breaks).
enum Base64 {
    /// Sentinel values in ``table``.
    private static let invalid: UInt8 = 0xFF
    private static let whitespace: UInt8 = 0xFE
    private static let pad: UInt8 = 0xFD

    private static let table: [UInt8] = {
        var t = [UInt8](repeating: Base64.invalid, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            t[Int(c)] = UInt8(i)
        }
        for c in [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n")] {
            t[Int(c)] = Base64.whitespace
        }
        t[Int(UInt8(ascii: "="))] = Base64.pad
        return t
    }()

    /// Decodes `input`, or returns nil when it is not canonical base64.
    ///
    /// - Parameters:
    ///   - allowWhitespace: skip SP, HTAB, CR and LF anywhere.
    ///   - requirePadding: the encoded length (padding included) must be a multiple of four.
    static func decode<C: Collection>(_ input: C, allowWhitespace: Bool, requirePadding: Bool) -> [UInt8]?
    where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3 + 3)
        var acc: UInt32 = 0
        var n = 0          // symbols in the current quantum
        var pads = 0
        for c in input {
            let v = self.table[Int(c)]
            switch v {
            case self.whitespace:
                guard allowWhitespace else { return nil }
            case self.pad:
                pads += 1
                guard pads <= 2 else { return nil }
            case self.invalid:
                return nil
            default:
                guard pads == 0 else { return nil }  // data after padding
                acc = (acc << 6) | UInt32(v)
                n += 1
                if n == 4 {
                    out.append(UInt8(truncatingIfNeeded: acc >> 16))
                    out.append(UInt8(truncatingIfNeeded: acc >> 8))
                    out.append(UInt8(truncatingIfNeeded: acc))
                    acc = 0
                    n = 0
                }
            }
        }
        switch n {
        case 0:
            guard pads == 0 else { return nil }
        case 2:
            guard pads == 2 || (pads == 0 && !requirePadding), acc & 0xF == 0 else { return nil }
            out.append(UInt8(truncatingIfNeeded: acc >> 4))
        case 3:
            guard pads == 1 || (pads == 0 && !requirePadding), acc & 0x3 == 0 else { return nil }
            out.append(UInt8(truncatingIfNeeded: acc >> 10))
            out.append(UInt8(truncatingIfNeeded: acc >> 2))
        default:
            return nil
        }
        return out
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// `bytes` in base64 (standard alphabet, padded).
    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let n = b0 << 16 | b1 << 8 | b2
            out.append(Self.alphabet[Int(n >> 18 & 63)])
            out.append(Self.alphabet[Int(n >> 12 & 63)])
            out.append(i + 1 < bytes.count ? Self.alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? Self.alphabet[Int(n & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
