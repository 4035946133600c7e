/// Why a document is not JSON, with the byte offset where parsing stopped.
package struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    package var reason: String
    package var offset: Int
    package var description: String { "\(self.reason) at byte \(self.offset)" }
}

/// A strict RFC 8259 parser over UTF-8 bytes.
///
/// Nesting is bounded (``maxDepth``) so hostile input cannot exhaust the stack; numbers without a fraction or
/// exponent that fit in 64 bits become ``JSON/int(_:)``.
package struct JSONParser {
    package static let maxDepth = 200

    private let bytes: [UInt8]
    private var i = 0

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    package static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSON {
        var p = JSONParser(bytes)
        p.skipWhitespace()
        let value = try p.parseValue(depth: 0)
        p.skipWhitespace()
        guard p.i == p.bytes.count else { throw p.error("unexpected data after the JSON value") }
        return value
    }

    package static func parse(_ text: String) throws(JSONParseError) -> JSON {
        try self.parse(Array(text.utf8))
    }

    private func error(_ reason: String) -> JSONParseError { JSONParseError(reason: reason, offset: self.i) }

    private mutating func skipWhitespace() {
        while self.i < self.bytes.count {
            switch self.bytes[self.i] {
            case 0x20, 0x0A, 0x0D, 0x09: self.i += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSON {
        guard depth < Self.maxDepth else { throw self.error("nesting deeper than \(Self.maxDepth) levels") }
        guard self.i < self.bytes.count else { throw self.error("unexpected end of input") }
        switch self.bytes[self.i] {
        case UInt8(ascii: "{"): return try self.parseObject(depth: depth)
        case UInt8(ascii: "["): return try self.parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try self.parseString())
        case UInt8(ascii: "t"): try self.expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try self.expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try self.expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try self.parseNumber()
        default: throw self.error("unexpected character")
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let n = literal.utf8CodeUnitCount
        guard self.i + n <= self.bytes.count else { throw self.error("invalid literal") }
        let ok = literal.withUTF8Buffer { lit in
            for k in 0..<n where self.bytes[self.i + k] != lit[k] { return false }
            return true
        }
        guard ok else { throw self.error("invalid literal") }
        self.i += n
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSON {
        self.i += 1
        var result: [String: JSON] = [:]
        // Entities have a dozen or two keys: start large enough to skip the smallest rehashes.
        result.reserveCapacity(8)
        self.skipWhitespace()
        if self.i < self.bytes.count, self.bytes[self.i] == UInt8(ascii: "}") {
            self.i += 1
            return .object(result)
        }
        while true {
            self.skipWhitespace()
            guard self.i < self.bytes.count, self.bytes[self.i] == UInt8(ascii: "\"") else {
                throw self.error("expected a string key")
            }
            let key = try self.parseString()
            self.skipWhitespace()
            guard self.i < self.bytes.count, self.bytes[self.i] == UInt8(ascii: ":") else {
                throw self.error("expected ':'")
            }
            self.i += 1
            self.skipWhitespace()
            result[key] = try self.parseValue(depth: depth + 1)
            self.skipWhitespace()
            guard self.i < self.bytes.count else { throw self.error("unexpected end of input") }
            if self.bytes[self.i] == UInt8(ascii: ",") {
                self.i += 1
                continue
            }
            if self.bytes[self.i] == UInt8(ascii: "}") {
                self.i += 1
                return .object(result)
            }
            throw self.error("expected ',' or '}'")
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSON {
        self.i += 1
        var result: [JSON] = []
        self.skipWhitespace()
        if self.i < self.bytes.count, self.bytes[self.i] == UInt8(ascii: "]") {
            self.i += 1
            return .array(result)
        }
        while true {
            self.skipWhitespace()
            result.append(try self.parseValue(depth: depth + 1))
            self.skipWhitespace()
            guard self.i < self.bytes.count else { throw self.error("unexpected end of input") }
            if self.bytes[self.i] == UInt8(ascii: ",") {
                self.i += 1
                continue
            }
            if self.bytes[self.i] == UInt8(ascii: "]") {
                self.i += 1
                return .array(result)
            }
            throw self.error("expected ',' or ']'")
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard self.i + 4 <= self.bytes.count else { throw self.error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = self.bytes[self.i]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw self.error("invalid \\u escape")
            }
            v = v << 4 | d
            self.i += 1
        }
        return v
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        self.i += 1
        let start = self.i
        // Fast path: no escapes.
        var high: UInt8 = 0
        while self.i < self.bytes.count {
            let c = self.bytes[self.i]
            if c == UInt8(ascii: "\"") {
                let s = self.bytes[start..<self.i]
                self.i += 1
                if high & 0x80 == 0 {
                    // ASCII is valid UTF-8 as it is: copied without the validating pass (most strings here).
                    return String(unsafeUninitializedCapacity: s.count) { out in
                        _ = out.initialize(from: s)
                        return s.count
                    }
                }
                guard let str = String(validating: s, as: UTF8.self) else {
                    throw JSONParseError(reason: "invalid UTF-8 in string", offset: start)
                }
                return str
            }
            high |= c
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw self.error("control character in string") }
            self.i += 1
        }
        var buf = Array(self.bytes[start..<self.i])
        while self.i < self.bytes.count {
            let c = self.bytes[self.i]
            switch c {
            case UInt8(ascii: "\""):
                self.i += 1
                guard let str = String(validating: buf, as: UTF8.self) else {
                    throw JSONParseError(reason: "invalid UTF-8 in string", offset: start)
                }
                return str
            case UInt8(ascii: "\\"):
                self.i += 1
                guard self.i < self.bytes.count else { throw self.error("unexpected end of input") }
                let e = self.bytes[self.i]
                self.i += 1
                switch e {
                case UInt8(ascii: "\""): buf.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): buf.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "/"): buf.append(UInt8(ascii: "/"))
                case UInt8(ascii: "b"): buf.append(0x08)
                case UInt8(ascii: "f"): buf.append(0x0C)
                case UInt8(ascii: "n"): buf.append(0x0A)
                case UInt8(ascii: "r"): buf.append(0x0D)
                case UInt8(ascii: "t"): buf.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try self.parseHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard self.i + 1 < self.bytes.count, self.bytes[self.i] == UInt8(ascii: "\\"),
                            self.bytes[self.i + 1] == UInt8(ascii: "u")
                        else { throw self.error("unpaired surrogate") }
                        self.i += 2
                        let low = try self.parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw self.error("unpaired surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw self.error("unpaired surrogate")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw self.error("invalid \\u escape") }
                    buf.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw self.error("invalid escape")
                }
            default:
                if c < 0x20 { throw self.error("control character in string") }
                buf.append(c)
                self.i += 1
            }
        }
        throw self.error("unterminated string")
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSON {
        let start = self.i
        var isInteger = true
        if self.bytes[self.i] == UInt8(ascii: "-") { self.i += 1 }
        func digits(_ p: inout JSONParser) -> Int {
            let s = p.i
            while p.i < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.i]) { p.i += 1 }
            return p.i - s
        }
        let intStart = self.i
        let intDigits = digits(&self)
        guard intDigits > 0 else { throw self.error("invalid number") }
        if intDigits > 1, self.bytes[intStart] == UInt8(ascii: "0") { throw self.error("leading zero in number") }
        if self.i < self.bytes.count, self.bytes[self.i] == UInt8(ascii: ".") {
            isInteger = false
            self.i += 1
            guard digits(&self) > 0 else { throw self.error("invalid number") }
        }
        if self.i < self.bytes.count, self.bytes[self.i] == UInt8(ascii: "e") || self.bytes[self.i] == UInt8(ascii: "E") {
            isInteger = false
            self.i += 1
            if self.i < self.bytes.count, self.bytes[self.i] == UInt8(ascii: "+") || self.bytes[self.i] == UInt8(ascii: "-") {
                self.i += 1
            }
            guard digits(&self) > 0 else { throw self.error("invalid number") }
        }
        let text = String(decoding: self.bytes[start..<self.i], as: UTF8.self)
        if isInteger, let v = Int64(text) { return .int(v) }
        guard let d = Double(text), d.isFinite else {
            throw JSONParseError(reason: "number out of range", offset: start)
        }
        return .double(d)
    }
}
