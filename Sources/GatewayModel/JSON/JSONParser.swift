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

    /// The document. Every read is at an index checked against `bytes.count` first (hostile input included).
    private let bytes: UnsafeBufferPointer<UInt8>
    private var i = 0
    /// Members of the objects being parsed, innermost last.
    private var members: [(key: String, head: UInt64, value: JSON)] = []
    /// ``KnownKeys/byLength``, read once per document.
    private let knownKeys = KnownKeys.byLength
    /// For ``parseRecord(_:fields:)``: the record's fields in canonical key order, and whether the top-level
    /// object's members were exactly those fields, in that order, each conforming.
    private var recordFields: [FieldTable.Column]? = nil
    private var recordConforms = false

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    package static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSON {
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParseError) -> JSON in
                var p = JSONParser(buffer)
                p.skipWhitespace()
                let value = try p.parseValue(depth: 0)
                p.skipWhitespace()
                guard p.i == p.bytes.count else { throw p.error("unexpected data after the JSON value") }
                return value
            }
        }
        return try result.get()
    }

    /// Parses an object that should be a record of `fields`, given in canonical key order (``FieldTable``), and
    /// says whether its members are exactly those fields in that order with values that conform
    /// (``SchemaValidator/conforms(_:_:)``): the verdict ``SchemaValidator/recordConforms(_:fields:)`` gives for the
    /// object, found from the members as they are read, without looking each field up.
    ///
    /// `false` is not a verdict: the object may still conform (keys in another order, say); callers then check
    /// the dictionary.
    ///
    /// - Returns: the object, nil when the document is JSON but not an object.
    /// - Throws: ``JSONParseError`` when the bytes are not JSON.
    package static func parseRecord(_ bytes: [UInt8], fields: [FieldTable.Column]?) throws(JSONParseError)
        -> (object: JSONObject?, conforms: Bool)
    {
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParseError) -> (JSONObject?, Bool) in
                var p = JSONParser(buffer)
                p.recordFields = fields
                p.skipWhitespace()
                let value = try p.parseValue(depth: 0)
                p.skipWhitespace()
                guard p.i == p.bytes.count else { throw p.error("unexpected data after the JSON value") }
                guard case .object(let object) = value else { return (nil, false) }
                return (object, p.recordConforms)
            }
        }
        return try result.get()
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
        self.skipWhitespace()
        if self.i < self.bytes.count, self.bytes[self.i] == UInt8(ascii: "}") {
            self.i += 1
            return .object(JSONObject())
        }
        // Members are collected on a stack shared by every level, then the dictionary is built at its final size:
        // no rehash while it grows.
        let base = self.members.count
        while true {
            self.skipWhitespace()
            guard self.i < self.bytes.count, self.bytes[self.i] == UInt8(ascii: "\"") else {
                throw self.error("expected a string key")
            }
            let (key, head) = try self.parseKey()
            self.skipWhitespace()
            guard self.i < self.bytes.count, self.bytes[self.i] == UInt8(ascii: ":") else {
                throw self.error("expected ':'")
            }
            self.i += 1
            self.skipWhitespace()
            let value = try self.parseValue(depth: depth + 1)
            self.members.append((key, head, value))
            self.skipWhitespace()
            guard self.i < self.bytes.count else { throw self.error("unexpected end of input") }
            if self.bytes[self.i] == UInt8(ascii: ",") {
                self.i += 1
                continue
            }
            if self.bytes[self.i] == UInt8(ascii: "}") {
                self.i += 1
                var conforms = false
                if depth == 0, let fields = self.recordFields {
                    conforms = self.members.withUnsafeBufferPointer { stack in
                        Self.membersConform(UnsafeBufferPointer(rebasing: stack[base...]), fields)
                    }
                    self.recordConforms = conforms
                }
                // Moved out of the stack, kept in document order when that is key order (every canonical row; a
                // conforming record's keys are its fields in canonical order, known to be in order).
                let result = JSONObject(documentOrder: &self.members, from: base, inKeyOrder: conforms)
                self.members.removeSubrange(base...)
                return .object(result)
            }
            throw self.error("expected ',' or '}'")
        }
    }

    /// Whether `members` are the fields of `columns` (same names, same order) with conforming values.
    private static func membersConform(_ members: UnsafeBufferPointer<(key: String, head: UInt64, value: JSON)>,
                                       _ columns: [FieldTable.Column]) -> Bool
    {
        guard members.count == columns.count else { return false }
        return columns.withUnsafeBufferPointer { columns in
            for k in columns.indices {
                // Keys of schema fields are the schemas' own strings (``KnownKeys``): equal at the first compare.
                guard members[k].key == columns[k].name, columns[k].conforms(members[k].value) else { return false }
            }
            return true
        }
    }

    /// An object key and its ``JSONObject/head(_:)``: the shared copy when it is a field name of a schema (no
    /// allocation, and lookups by the schema's own string compare equal at once), else a new string.
    private mutating func parseKey() throws(JSONParseError) -> (String, UInt64) {
        let start = self.i + 1
        var end = start
        while end < self.bytes.count {
            let c = self.bytes[end]
            if c == UInt8(ascii: "\"") {
                if let known = KnownKeys.lookup(self.knownKeys, self.bytes, start..<end) {
                    self.i = end + 1
                    // The little-endian head KnownKeys compared, turned big-endian.
                    return (known.name, known.head.byteSwapped)
                }
                break
            }
            if c == UInt8(ascii: "\\") || c < 0x20 || c >= 0x80 { break }
            end += 1
        }
        let key = try self.parseString()
        return (key, JSONObject.head(key))
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
        // Up to 18 digits cannot overflow: computed in place (most numbers in a snapshot).
        if isInteger, intDigits <= 18 {
            var v: Int64 = 0
            for k in intStart..<self.i { v = v &* 10 &+ Int64(self.bytes[k] &- UInt8(ascii: "0")) }
            return .int(intStart > start ? -v : v)
        }
        let text = String(decoding: self.bytes[start..<self.i], as: UTF8.self)
        if isInteger, let v = Int64(text) { return .int(v) }
        guard let d = Double(text), d.isFinite else {
            throw JSONParseError(reason: "number out of range", offset: start)
        }
        return .double(d)
    }
}

/// Every field name the schemas define, found from key bytes without building a string.
enum KnownKeys {
    struct Name {
        /// The first 8 bytes, as ``head(_:_:)`` reads them: most names differ there.
        let head: UInt64
        let bytes: [UInt8]
        let name: String
    }

    /// Per byte length, the names of that length.
    static let byLength: [[Name]] = {
        var names = Set<String>()
        func collect(_ fields: [FieldSpec]) {
            for f in fields {
                names.insert(f.name)
                switch f.type {
                case .record(let sub): collect(sub)
                case .array(let e), .set(let e), .map(let e): collect([e])
                default: break
                }
            }
        }
        for schema in EntityRegistry.all { collect(schema.fields) }
        for plugin in PluginSchema.available.values { collect(plugin.config) }
        names.insert("id")
        names.remove("")
        var table = [[Name]](repeating: [], count: 33)
        for n in names.sorted() where n.utf8.count < table.count && n.utf8.allSatisfy({ $0 < 0x80 }) {
            let bytes = Array(n.utf8)
            let head = bytes.withUnsafeBufferPointer { Self.head($0, 0..<$0.count) }
            table[bytes.count].append(Name(head: head, bytes: bytes, name: n))
        }
        return table
    }()

    /// The first (up to) 8 bytes of `bytes[range]`, byte k in bits 8k..<8k+8, zero-padded.
    @inline(__always)
    static func head(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UInt64 {
        let n = min(8, range.count)
        guard let base = bytes.baseAddress else { return 0 }
        if range.lowerBound + 8 <= bytes.count {
            // One load when 8 bytes are there to read (the key's bytes and what follows), masked to the key's.
            let word = UInt64(littleEndian: UnsafeRawPointer(base + range.lowerBound).loadUnaligned(as: UInt64.self))
            return n == 8 ? word : word & ((1 &<< (8 &* UInt64(n))) &- 1)
        }
        var v: UInt64 = 0
        for k in 0..<n { v |= UInt64(base[range.lowerBound + k]) &<< (8 &* UInt64(k)) }
        return v
    }

    /// The shared name spelled by `bytes[range]`, if any. `table` is ``byLength``.
    @inline(__always)
    static func lookup(_ table: [[Name]], _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Name? {
        guard range.count < table.count else { return nil }
        let head = Self.head(bytes, range)
        for c in table[range.count] where c.head == head {
            if range.count <= 8 { return c }
            var same = true
            for k in 8..<range.count where c.bytes[k] != bytes[range.lowerBound + k] {
                same = false
                break
            }
            if same { return c }
        }
        return nil
    }
}
