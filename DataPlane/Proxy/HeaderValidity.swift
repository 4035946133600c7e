import NIOHTTP1

/// What a header field must be to be written on the wire (RFC 9110 §5.1, §5.5): a token for a name, no CR, LF or
/// NUL in a value.
///
/// The proxy's HTTP codecs run without NIO's outbound header validation: a request's and a response's fields were
/// parsed by NIO's decoder (which refuses what is invalid) and the proxy adds only fields it builds from them.
/// Plugins are the exception (a consumer's username, a certificate's subject DN become header values), so the
/// heads they may have changed are checked here, once per request and only for routes with plugins.
enum HeaderValidity {
    /// The names of the fields of `headers` that cannot be sent, in order (empty when all can).
    static func invalidFields(_ headers: HTTPHeaders) -> [String] {
        var invalid: [String] = []
        for (name, value) in headers where !self.isToken(name) || !self.isFieldValue(value) {
            invalid.append(name)
        }
        return invalid
    }

    /// Whether `target` can be a request target on the wire: non-empty, no control characters, space or DEL.
    static func isRequestTarget(_ target: String) -> Bool {
        !target.isEmpty && !target.utf8.contains { $0 <= 0x20 || $0 == 0x7F }
    }

    /// Removes the fields of `headers` that cannot be sent; returns their names.
    static func removeInvalid(_ headers: inout HTTPHeaders) -> [String] {
        let invalid = self.invalidFields(headers)
        for name in invalid { headers.remove(name: name) }
        return invalid
    }

    static func isToken(_ name: String) -> Bool {
        if let valid = name.utf8.withContiguousStorageIfAvailable({ bytes in
            !bytes.isEmpty && bytes.allSatisfy { HeadScanner.isTokenByte($0) }
        }) {
            return valid
        }
        return !name.isEmpty && name.utf8.allSatisfy(self.isTokenByte)
    }

    /// Checked over the string's contiguous bytes where it has them (native strings do): this runs for every field
    /// of every request on a route with plugins, certificate headers of kilobytes included.
    static func isFieldValue(_ value: String) -> Bool {
        if let valid = value.utf8.withContiguousStorageIfAvailable({ bytes in
            let raw = UnsafeRawBufferPointer(bytes)
            var i = 0
            // Eight bytes at a time while none is a control byte; a word with one is looked at byte by byte.
            while i + 8 <= raw.count, !SWAR.hasByte(below: 0x20, in: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) {
                i += 8
            }
            return !raw[i...].contains { $0 < 0x20 && ($0 == 0x0D || $0 == 0x0A || $0 == 0x00) }
        }) {
            return valid
        }
        return !value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
    }

    /// `tchar` of RFC 9110 §5.6.2.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }
}
