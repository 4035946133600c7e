/// The outer framing of DER certificates: a SEQUENCE with a definite, minimally encoded length.
///
/// This does not parse the certificate (OpenSSL does that during verification); it tells certificate bytes from
/// anything else early and splits concatenated DER without trusting any other delimiter.
package enum DERFraming {
    /// The total length (header + content) of the SEQUENCE starting at `start`, if it is well framed and fits.
    static func sequenceLength(_ bytes: [UInt8], at start: Int) -> Int? {
        let end = bytes.count
        guard start + 2 <= end, bytes[start] == 0x30 else { return nil }
        let first = bytes[start + 1]
        var header = 2
        var length = 0
        if first < 0x80 {
            length = Int(first)
        } else {
            let octets = Int(first & 0x7F)
            // 0x80 is the indefinite form (BER only); more than 3 length octets is far beyond any limit here.
            guard octets >= 1, octets <= 3, start + 2 + octets <= end else { return nil }
            for i in 0..<octets { length = (length << 8) | Int(bytes[start + 2 + i]) }
            // DER: the shortest form only.
            guard length >= 0x80, bytes[start + 2] != 0 else { return nil }
            header += octets
        }
        guard header + length <= end - start else { return nil }
        return header + length
    }

    /// Whether `bytes` is exactly one DER SEQUENCE.
    static func isSingleSequence(_ bytes: [UInt8]) -> Bool {
        self.sequenceLength(bytes, at: 0) == bytes.count
    }

    /// Splits concatenated DER SEQUENCEs; nil when the bytes are not exactly such a concatenation or hold more
    /// than `max`.
    package static func split(_ bytes: [UInt8], max: Int) -> [[UInt8]]? {
        var out: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            guard out.count < max, let len = self.sequenceLength(bytes, at: i) else { return nil }
            out.append(Array(bytes[i..<(i + len)]))
            i += len
        }
        return out.isEmpty ? nil : out
    }
}
