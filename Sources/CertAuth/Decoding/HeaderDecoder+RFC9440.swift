extension HeaderDecoder {
    /// `rfc9440`: `Client-Cert` is one sf-binary Item (`:base64(DER):`), `Client-Cert-Chain` an sf List of them
    /// (intermediates only, the leaf excluded). Parameters on items are parsed and ignored, as RFC 8941 requires
    /// for unknown ones.
    func decodeRFC9440(_ value: ArraySlice<UInt8>, chain: ArraySlice<UInt8>?) throws(HeaderDecodingError)
        -> [[UInt8]]
    {
        var scanner = StructuredFieldScanner(Array(value))
        let leaf = try scanner.byteSequenceItem()
        guard scanner.atEnd else { throw HeaderDecodingError(.malformed, "trailing data after Client-Cert") }
        var certificates = [leaf]
        if let chain, !chain.isEmpty {
            var scanner = StructuredFieldScanner(Array(chain))
            while true {
                guard certificates.count < self.limits.maxCertificates else {
                    throw HeaderDecodingError(.tooManyCertificates,
                                              "more than \(self.limits.maxCertificates) certificates")
                }
                certificates.append(try scanner.byteSequenceItem())
                scanner.skipOWS()
                if scanner.atEnd { break }
                guard scanner.consume(UInt8(ascii: ",")) else {
                    throw HeaderDecodingError(.malformed, "expected ',' in Client-Cert-Chain")
                }
                scanner.skipOWS()
                guard !scanner.atEnd else { throw HeaderDecodingError(.malformed, "trailing ',' in Client-Cert-Chain") }
            }
        }
        for (i, der) in certificates.enumerated() where !DERFraming.isSingleSequence(der) {
            throw HeaderDecodingError(.notACertificate, "byte sequence \(i + 1) is not a DER certificate")
        }
        return certificates
    }
}

/// Just enough of RFC 8941 to read Items whose bare item is a Byte Sequence, with parameters skipped.
struct StructuredFieldScanner {
    private let bytes: [UInt8]
    private var i = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { self.i == self.bytes.count }

    private var peek: UInt8? { self.i < self.bytes.count ? self.bytes[self.i] : nil }

    mutating func consume(_ c: UInt8) -> Bool {
        guard self.peek == c else { return false }
        self.i += 1
        return true
    }

    mutating func skipOWS() {
        while let c = self.peek, c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { self.i += 1 }
    }

    /// `:base64:` followed by optional parameters.
    mutating func byteSequenceItem() throws(HeaderDecodingError) -> [UInt8] {
        let bytes = try self.byteSequence()
        try self.skipParameters()
        return bytes
    }

    private mutating func byteSequence() throws(HeaderDecodingError) -> [UInt8] {
        guard self.consume(UInt8(ascii: ":")) else {
            throw HeaderDecodingError(.malformed, "expected an sf-binary ':…:'")
        }
        let start = self.i
        while let c = self.peek, c != UInt8(ascii: ":") { self.i += 1 }
        let end = self.i
        guard self.consume(UInt8(ascii: ":")) else { throw HeaderDecodingError(.malformed, "unterminated sf-binary") }
        // RFC 8941 §4.2.7: parsers should not fail on missing padding; whitespace is not allowed inside.
        guard let decoded = Base64.decode(self.bytes[start..<end], allowWhitespace: false, requirePadding: false)
        else {
            throw HeaderDecodingError(.malformed, "invalid base64 in sf-binary")
        }
        guard !decoded.isEmpty else { throw HeaderDecodingError(.malformed, "empty sf-binary") }
        return decoded
    }

    private mutating func skipParameters() throws(HeaderDecodingError) {
        while self.consume(UInt8(ascii: ";")) {
            while self.consume(UInt8(ascii: " ")) {}
            guard let first = self.peek, Self.isLCAlpha(first) || first == UInt8(ascii: "*") else {
                throw HeaderDecodingError(.malformed, "bad parameter key")
            }
            while let c = self.peek, Self.isKeyChar(c) { self.i += 1 }
            if self.consume(UInt8(ascii: "=")) { try self.skipBareItem() }
        }
    }

    private mutating func skipBareItem() throws(HeaderDecodingError) {
        guard let c = self.peek else { throw HeaderDecodingError(.malformed, "missing parameter value") }
        switch c {
        case UInt8(ascii: ":"):
            _ = try self.byteSequence()
        case UInt8(ascii: "\""):
            self.i += 1
            while true {
                guard let c = self.peek else { throw HeaderDecodingError(.malformed, "unterminated sf-string") }
                self.i += 1
                if c == UInt8(ascii: "\"") { break }
                if c == UInt8(ascii: "\\") {
                    guard let e = self.peek, e == UInt8(ascii: "\"") || e == UInt8(ascii: "\\") else {
                        throw HeaderDecodingError(.malformed, "bad escape in sf-string")
                    }
                    self.i += 1
                } else if c < 0x20 || c > 0x7E {
                    throw HeaderDecodingError(.malformed, "bad character in sf-string")
                }
            }
        case UInt8(ascii: "?"):
            self.i += 1
            guard self.consume(UInt8(ascii: "0")) || self.consume(UInt8(ascii: "1")) else {
                throw HeaderDecodingError(.malformed, "bad sf-boolean")
            }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            self.i += 1
            while let c = self.peek, Self.isDigit(c) || c == UInt8(ascii: ".") { self.i += 1 }
        default:
            guard Self.isAlpha(c) || c == UInt8(ascii: "*") else {
                throw HeaderDecodingError(.malformed, "bad parameter value")
            }
            while let c = self.peek, Self.isTokenChar(c) { self.i += 1 }
        }
    }

    private static func isLCAlpha(_ c: UInt8) -> Bool { c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") }
    private static func isAlpha(_ c: UInt8) -> Bool {
        isLCAlpha(c) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
    }
    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
    private static func isKeyChar(_ c: UInt8) -> Bool {
        isLCAlpha(c) || isDigit(c) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
            || c == UInt8(ascii: "*")
    }
    private static func isTokenChar(_ c: UInt8) -> Bool {
        // tchar (RFC 9110) plus ":" and "/".
        if isAlpha(c) || isDigit(c) { return true }
        return self.tokenExtras.contains(c)
    }
    private static let tokenExtras: [UInt8] = Array("!#$%&'*+-.^_`|~:/".utf8)
}
