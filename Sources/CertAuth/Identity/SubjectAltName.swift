/// One subject alternative name of the kinds consumer matching uses.
package enum SubjectAltName: Sendable, Hashable, CustomStringConvertible {
    case dns(String)
    /// A URI, SPIFFE IDs (`spiffe://trust-domain/path`) included.
    case uri(String)
    /// An rfc822Name.
    case email(String)
    /// An iPAddress in text form: dotted quad, or RFC 5952 compressed IPv6.
    case ip(String)

    /// The value as Kong's subject-name list holds it (the text without its kind).
    package var value: String {
        switch self {
        case .dns(let v), .uri(let v), .email(let v), .ip(let v): v
        }
    }

    /// Whether this is a SPIFFE ID (a URI with the `spiffe` scheme).
    package var isSPIFFEID: Bool {
        if case .uri(let v) = self { return v.utf8.count > 9 && v.lowercased().hasPrefix("spiffe://") }
        return false
    }

    package var description: String {
        switch self {
        case .dns(let v): "DNS:\(v)"
        case .uri(let v): "URI:\(v)"
        case .email(let v): "email:\(v)"
        case .ip(let v): "IP:\(v)"
        }
    }

    /// Text form of a 4- or 16-byte address; nil for any other length.
    static func ipText(_ bytes: [UInt8]) -> String? {
        if bytes.count == 4 { return bytes.map { String($0) }.joined(separator: ".") }
        guard bytes.count == 16 else { return nil }
        var groups: [UInt16] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])) }
        // RFC 5952: compress the longest run (length >= 2) of zero groups, the first one on a tie.
        var bestStart = -1
        var bestLength = 1
        var i = 0
        while i < 8 {
            guard groups[i] == 0 else {
                i += 1
                continue
            }
            var j = i
            while j < 8, groups[j] == 0 { j += 1 }
            if j - i > bestLength {
                bestStart = i
                bestLength = j - i
            }
            i = j
        }
        func hex(_ range: Range<Int>) -> String { groups[range].map { String($0, radix: 16) }.joined(separator: ":") }
        guard bestStart >= 0 else { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}
