extension HeaderDecoder {
    /// `xfcc`: Envoy's `x-forwarded-client-cert`. Elements are separated by `,` (one per proxy hop), `key=value`
    /// pairs inside an element by `;`; values containing `, ; =` are double-quoted with `\"` escapes. Only the
    /// **last** element counts (the one the nearest proxy appended). Its `Chain=` (URL-encoded PEM chain, leaf
    /// first) is used when present, else its `Cert=` (URL-encoded PEM leaf); when both are present the chain must
    /// start with the same certificate.
    func decodeXFCC(_ value: ArraySlice<UInt8>) throws(HeaderDecodingError) -> [[UInt8]] {
        let elements = try XFCC.elements(Array(value))
        guard let last = elements.last else { throw HeaderDecodingError(.empty, "empty XFCC header") }
        var cert: [UInt8]?
        var chain: [UInt8]?
        for (key, value) in last {
            if Self.equalsIgnoringCase(key, "cert") {
                guard cert == nil else { throw HeaderDecodingError(.malformed, "duplicate Cert in XFCC element") }
                cert = value
            } else if Self.equalsIgnoringCase(key, "chain") {
                guard chain == nil else { throw HeaderDecodingError(.malformed, "duplicate Chain in XFCC element") }
                chain = value
            }
        }
        let max = self.limits.maxCertificates
        let leaf = try cert.map { (v: [UInt8]) throws(HeaderDecodingError) -> [[UInt8]] in
            try PEMCertificates.parse(try PercentDecoding.decode(v), maxCertificates: 1)
        }
        if let chain {
            let certificates = try PEMCertificates.parse(try PercentDecoding.decode(chain), maxCertificates: max)
            if let leaf, leaf.first != certificates.first {
                throw HeaderDecodingError(.malformed, "XFCC Cert and Chain disagree on the leaf")
            }
            return certificates
        }
        guard let leaf else { throw HeaderDecodingError(.noCertificate, "last XFCC element has no Cert or Chain") }
        return leaf
    }

    private static func equalsIgnoringCase(_ bytes: [UInt8], _ lowercase: String) -> Bool {
        bytes.count == lowercase.utf8.count
            && zip(bytes, lowercase.utf8).allSatisfy { a, b in (a | 0x20) == b }
    }
}

/// The `x-forwarded-client-cert` grammar: elements of `key=value` pairs, values optionally quoted.
enum XFCC {
    typealias Element = [(key: [UInt8], value: [UInt8])]

    static func elements(_ bytes: [UInt8]) throws(HeaderDecodingError) -> [Element] {
        var elements: [Element] = []
        var element: Element = []
        var key: [UInt8] = []
        var value: [UInt8] = []
        var inKey = true
        var inQuotes = false
        var quotedValue = false
        var afterQuote = false
        var i = 0

        func endPair() throws(HeaderDecodingError) {
            guard !inKey, !key.isEmpty else { throw HeaderDecodingError(.malformed, "XFCC pair without key=value") }
            element.append((key, value))
            key = []
            value = []
            inKey = true
            quotedValue = false
            afterQuote = false
        }

        while i < bytes.count {
            let c = bytes[i]
            i += 1
            if inQuotes {
                if c == UInt8(ascii: "\\") {
                    guard i < bytes.count else { throw HeaderDecodingError(.malformed, "dangling escape in XFCC") }
                    value.append(bytes[i])
                    i += 1
                } else if c == UInt8(ascii: "\"") {
                    inQuotes = false
                    afterQuote = true
                } else {
                    value.append(c)
                }
                continue
            }
            switch c {
            case UInt8(ascii: ","):
                try endPair()
                elements.append(element)
                element = []
                // Envoy writes no space after ',', but other writers may.
                while i < bytes.count, bytes[i] == UInt8(ascii: " ") { i += 1 }
            case UInt8(ascii: ";"):
                try endPair()
            case UInt8(ascii: "="):
                guard inKey else { throw HeaderDecodingError(.malformed, "unquoted '=' in XFCC value") }
                inKey = false
            case UInt8(ascii: "\""):
                guard !inKey, value.isEmpty, !quotedValue else {
                    throw HeaderDecodingError(.malformed, "misplaced quote in XFCC")
                }
                inQuotes = true
                quotedValue = true
            default:
                guard c > 0x20, c < 0x7F else { throw HeaderDecodingError(.malformed, "bad byte in XFCC") }
                guard !afterQuote else { throw HeaderDecodingError(.malformed, "data after quoted XFCC value") }
                if inKey { key.append(c) } else { value.append(c) }
            }
        }
        guard !inQuotes else { throw HeaderDecodingError(.malformed, "unterminated quote in XFCC") }
        try endPair()
        elements.append(element)
        return elements
    }
}
