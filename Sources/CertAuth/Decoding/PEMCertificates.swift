/// Strict reader for one or more concatenated PEM `CERTIFICATE` blocks (RFC 7468 §2 framing, leaf first).
///
/// Accepted between and around blocks: ASCII whitespace only (CRLF or LF line ends, and the spaces some proxies
/// use instead of line breaks). Inside a block: base64 and whitespace. Anything else — explanatory text, other
/// labels, a missing END line — is refused.
enum PEMCertificates {
    private static let begin = Array("-----BEGIN ".utf8)
    private static let dashes = Array("-----".utf8)
    private static let end = Array("-----END CERTIFICATE-----".utf8)
    private static let label = Array("CERTIFICATE".utf8)

    static func isWhitespace(_ c: UInt8) -> Bool {
        c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") || c == UInt8(ascii: "\n")
    }

    /// Whether `text` (after leading whitespace) starts like a PEM block.
    static func looksLikePEM(_ text: [UInt8]) -> Bool {
        var i = 0
        while i < text.count, self.isWhitespace(text[i]) { i += 1 }
        return self.matches(text, at: i, self.begin)
    }

    /// The DER of every block in `text`.
    static func parse(_ text: [UInt8], maxCertificates: Int) throws(HeaderDecodingError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        let n = text.count
        func skipWhitespace() { while i < n, self.isWhitespace(text[i]) { i += 1 } }
        skipWhitespace()
        if i == n { throw HeaderDecodingError(.empty, "no PEM block") }
        while i < n {
            guard self.matches(text, at: i, self.begin) else {
                throw HeaderDecodingError(.malformed, "expected -----BEGIN at offset \(i)")
            }
            i += self.begin.count
            let labelStart = i
            while i < n, i - labelStart <= 64, !self.matches(text, at: i, self.dashes) { i += 1 }
            guard self.matches(text, at: i, self.dashes) else {
                throw HeaderDecodingError(.malformed, "unterminated PEM BEGIN line")
            }
            guard text[labelStart..<i].elementsEqual(self.label) else {
                throw HeaderDecodingError(.notACertificate, "PEM block is not a CERTIFICATE")
            }
            i += self.dashes.count
            let bodyStart = i
            while i < n, text[i] != UInt8(ascii: "-") { i += 1 }
            let bodyEnd = i
            guard self.matches(text, at: i, self.end) else {
                throw HeaderDecodingError(.malformed, "missing -----END CERTIFICATE-----")
            }
            i += self.end.count
            guard out.count < maxCertificates else {
                throw HeaderDecodingError(.tooManyCertificates, "more than \(maxCertificates) certificates")
            }
            guard let der = Base64.decode(text[bodyStart..<bodyEnd], allowWhitespace: true, requirePadding: true)
            else {
                throw HeaderDecodingError(.malformed, "invalid base64 in PEM block \(out.count + 1)")
            }
            guard DERFraming.isSingleSequence(der) else {
                throw HeaderDecodingError(.notACertificate, "PEM block \(out.count + 1) is not a DER certificate")
            }
            out.append(der)
            skipWhitespace()
        }
        return out
    }

    private static func matches(_ text: [UInt8], at i: Int, _ literal: [UInt8]) -> Bool {
        guard i + literal.count <= text.count else { return false }
        for k in 0..<literal.count where text[i + k] != literal[k] { return false }
        return true
    }
}
