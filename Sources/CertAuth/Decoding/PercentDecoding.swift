/// RFC 3986 percent-decoding: `%HH` becomes one byte and every other byte stays as it is.
///
/// In particular `+` stays `+` (AWS ALB leaves `+ = /` unescaped; form decoding would turn `+` into a space and
/// corrupt the base64), and escaped `%2B %3D %2F` (nginx, Kong's tests) decode to the same bytes.
enum PercentDecoding {
    static func decode<C: Collection>(_ input: C) throws(HeaderDecodingError) -> [UInt8] where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var it = input.makeIterator()
        while let c = it.next() {
            guard c == UInt8(ascii: "%") else {
                // Control characters and non-ASCII never appear in a URL-encoded PEM.
                guard c >= 0x20, c < 0x7F else {
                    throw HeaderDecodingError(.malformed, "raw control or non-ASCII byte")
                }
                out.append(c)
                continue
            }
            guard let h = it.next().flatMap(self.hexValue), let l = it.next().flatMap(self.hexValue) else {
                throw HeaderDecodingError(.malformed, "bad percent-escape")
            }
            out.append(h << 4 | l)
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
