/// Kong's request-path normalisation before route matching: percent-encodings of unreserved characters are
/// decoded, the others upper-cased, dot segments removed (RFC 3986 §5.2.4) and repeated slashes merged.
package enum PathNormalizer {
    package static func normalize(_ path: Substring) -> String {
        if self.isNormal(path) { return String(path) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(path.utf8.count)
        var u = Array(path.utf8)
        if u.isEmpty || u[0] != UInt8(ascii: "/") { u.insert(UInt8(ascii: "/"), at: 0) }
        var i = 0
        while i < u.count {
            let c = u[i]
            if c == UInt8(ascii: "%"), i + 2 < u.count, let h = hex(u[i + 1]), let l = hex(u[i + 2]) {
                let decoded = h << 4 | l
                if isUnreserved(decoded) {
                    bytes.append(decoded)
                } else {
                    bytes.append(UInt8(ascii: "%"))
                    bytes.append(upper(u[i + 1]))
                    bytes.append(upper(u[i + 2]))
                }
                i += 3
                continue
            }
            if c == UInt8(ascii: "/"), bytes.last == UInt8(ascii: "/") {
                i += 1
                continue
            }
            bytes.append(c)
            i += 1
        }
        return removeDotSegments(bytes)
    }

    /// Most request paths need no work: they start with "/", have no percent-encoding, no "//" and no dot
    /// segment.
    static func isNormal(_ path: Substring) -> Bool {
        var previous: UInt8 = 0
        var first = true
        for c in path.utf8 {
            if first {
                guard c == UInt8(ascii: "/") else { return false }
                first = false
            }
            if c == UInt8(ascii: "%") { return false }
            if previous == UInt8(ascii: "/"), c == UInt8(ascii: "/") || c == UInt8(ascii: ".") { return false }
            previous = c
        }
        return !first
    }

    static func isUnreserved(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x2E
            || c == 0x5F || c == 0x7E
    }

    static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    static func upper(_ c: UInt8) -> UInt8 { (c >= 0x61 && c <= 0x66) ? c - 0x20 : c }

    /// RFC 3986 §5.2.4 on segments; keeps a trailing slash.
    static func removeDotSegments(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.contains(".") else { return text }
        var output: [Substring] = []
        let segments = text.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        var trailingSlash = false
        for (n, segment) in segments.enumerated() {
            let last = n == segments.count - 1
            switch segment {
            case ".":
                trailingSlash = last
            case "..":
                if !output.isEmpty { output.removeLast() }
                trailingSlash = last
            default:
                output.append(segment)
                trailingSlash = false
            }
        }
        var result = "/" + output.joined(separator: "/")
        if trailingSlash, !result.hasSuffix("/") { result += "/" }
        return result
    }
}
