/// The canonical bytes of one entity row; equal bytes mean an equal (already decoded, already validated) entity.
///
/// The digest is computed once, word by word, when the row is cut out of the payload; dictionary lookups then
/// hash one integer and compare bytes only on a digest match.
package struct RowBytes: Hashable, Sendable {
    package let bytes: [UInt8]
    let digest: UInt64

    package init(_ slice: ArraySlice<UInt8>) {
        let bytes = Array(slice)
        self.bytes = bytes
        self.digest = bytes.withUnsafeBytes(Self.digest)
    }

    /// A fast 64-bit mix of the bytes (not cryptographic: the payload's SHA-256 was checked before).
    static func digest(_ raw: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(raw.count)
        var i = 0
        while i + 8 <= raw.count {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ w) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < raw.count {
            tail |= UInt64(raw[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 29)
    }

    package func hash(into hasher: inout Hasher) { hasher.combine(self.digest) }

    package static func == (a: RowBytes, b: RowBytes) -> Bool { a.digest == b.digest && a.bytes == b.bytes }
}

/// A decoded snapshot plus what the next decode may reuse: every row's bytes with its entity.
package struct DecodedSnapshot: Sendable {
    package let content: ConfigContent
    package let rows: [String: [RowBytes: [String: JSON]]]
    /// Per type, the ids of entities parsed in this decode (the others were reused unchanged).
    package let fresh: [String: Set<String>]
}

/// Decodes a canonical snapshot payload (the format of ``ConfigContent/canonicalBytes()``) reusing, row by row,
/// the entities of the previous snapshot whose bytes did not change: only new or changed rows are parsed.
/// Rows are found by a scan that tracks strings and nesting without building values.
package enum IncrementalDecoder {
    package static func decode(_ payload: [UInt8], previous: DecodedSnapshot?) throws(ConfigContent.DecodeError)
        -> DecodedSnapshot
    {
        var scanner = RowScanner(payload)
        var entities: [String: [[String: JSON]]] = [:]
        var rows: [String: [RowBytes: [String: JSON]]] = [:]
        var fresh: [String: Set<String>] = [:]
        var trusted: [String] = []
        do throws(JSONParseError) {
            try scanner.expect(UInt8(ascii: "{"))
            if try !scanner.consumeIf(UInt8(ascii: "}")) {
                repeat {
                    let key = try scanner.key()
                    if EntityRegistry.schema(key) != nil {
                        let before = previous?.rows[key] ?? [:]
                        var list: [[String: JSON]] = []
                        var index: [RowBytes: [String: JSON]] = [:]
                        var parsed = Set<String>()
                        try scanner.elements { slice throws(JSONParseError) in
                            let row = RowBytes(slice)
                            if let entity = before[row] {
                                list.append(entity)
                                index[row] = entity
                                return
                            }
                            guard case .object(let entity) = try JSONParser.parse(row.bytes) else {
                                throw JSONParseError(reason: "\(key) row is not an object", offset: 0)
                            }
                            list.append(entity)
                            index[row] = entity
                            if let id = entity["id"]?.stringValue { parsed.insert(id) }
                        }
                        entities[key] = list
                        rows[key] = index
                        fresh[key] = parsed
                    } else {
                        let value = try JSONParser.parse(Array(try scanner.value()))
                        if key == "_trusted_ips" { trusted = (value.arrayValue ?? []).compactMap(\.stringValue) }
                    }
                } while try scanner.consumeIf(UInt8(ascii: ","))
                try scanner.expect(UInt8(ascii: "}"))
            }
            try scanner.end()
        } catch {
            throw ConfigContent.DecodeError(description: "snapshot payload is not valid: \(error)")
        }
        return DecodedSnapshot(content: ConfigContent(entities: entities, trustedIPs: trusted), rows: rows, fresh: fresh)
    }
}

/// Finds value boundaries in JSON text without building values (strings, escapes and nesting are tracked).
struct RowScanner {
    let bytes: [UInt8]
    var i = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func error(_ reason: String) -> JSONParseError { JSONParseError(reason: reason, offset: self.i) }

    mutating func skipWhitespace() {
        while self.i < self.bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(self.bytes[self.i]) { self.i += 1 }
    }

    mutating func expect(_ c: UInt8) throws(JSONParseError) {
        self.skipWhitespace()
        guard self.i < self.bytes.count, self.bytes[self.i] == c else {
            throw self.error("expected '\(Character(Unicode.Scalar(c)))'")
        }
        self.i += 1
    }

    mutating func consumeIf(_ c: UInt8) throws(JSONParseError) -> Bool {
        self.skipWhitespace()
        guard self.i < self.bytes.count else { throw self.error("unexpected end of input") }
        if self.bytes[self.i] == c {
            self.i += 1
            return true
        }
        return false
    }

    mutating func end() throws(JSONParseError) {
        self.skipWhitespace()
        guard self.i == self.bytes.count else { throw self.error("unexpected data after the document") }
    }

    /// An object key and the colon after it.
    mutating func key() throws(JSONParseError) -> String {
        self.skipWhitespace()
        let slice = try self.value()
        guard case .string(let key) = try JSONParser.parse(Array(slice)) else { throw self.error("expected a string key") }
        try self.expect(UInt8(ascii: ":"))
        return key
    }

    /// Calls `body` with each element of the array that starts here.
    mutating func elements(_ body: (ArraySlice<UInt8>) throws(JSONParseError) -> Void) throws(JSONParseError) {
        try self.expect(UInt8(ascii: "["))
        if try self.consumeIf(UInt8(ascii: "]")) { return }
        repeat {
            try body(try self.value())
        } while try self.consumeIf(UInt8(ascii: ","))
        try self.expect(UInt8(ascii: "]"))
    }

    /// The bytes of the value that starts here (validated later by the parser, when parsed).
    mutating func value() throws(JSONParseError) -> ArraySlice<UInt8> {
        self.skipWhitespace()
        let start = self.i
        var depth = 0
        var inString = false
        while self.i < self.bytes.count {
            let c = self.bytes[self.i]
            if inString {
                if c == UInt8(ascii: "\\") {
                    self.i += 2
                    continue
                }
                if c == UInt8(ascii: "\"") {
                    inString = false
                    if depth == 0 {
                        self.i += 1
                        return self.bytes[start..<self.i]
                    }
                }
                self.i += 1
                continue
            }
            switch c {
            case UInt8(ascii: "\""):
                inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                guard depth <= JSONParser.maxDepth else { throw self.error("nesting too deep") }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if depth == 0 { return try self.scalar(start) }
                depth -= 1
                if depth == 0 {
                    self.i += 1
                    return self.bytes[start..<self.i]
                }
            case UInt8(ascii: ","), 0x20, 0x0A, 0x0D, 0x09:
                if depth == 0 { return try self.scalar(start) }
            default:
                break
            }
            self.i += 1
        }
        if depth == 0, !inString, self.i > start { return self.bytes[start..<self.i] }
        throw self.error("unexpected end of input")
    }

    private func scalar(_ start: Int) throws(JSONParseError) -> ArraySlice<UInt8> {
        guard self.i > start else { throw self.error("expected a value") }
        return self.bytes[start..<self.i]
    }
}
