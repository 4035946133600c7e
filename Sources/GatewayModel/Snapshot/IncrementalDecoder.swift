import Foundation

/// One decoded row kept for the next decode: its canonical bytes and the (validated) entity they encode.
package struct StoredRow: Sendable {
    package let bytes: [UInt8]
    package let entity: [String: JSON]

    package init(bytes: [UInt8], entity: [String: JSON]) {
        self.bytes = bytes
        self.entity = entity
    }
}

/// Decoded rows by a digest of their bytes; a lookup compares bytes only on a digest match and copies nothing.
/// Rows whose digest collides with another's (different bytes) go to a small overflow list.
package struct RowIndex: Sendable {
    private var primary: [UInt64: StoredRow] = [:]
    private var overflow: [(UInt64, StoredRow)] = []

    package init(capacity: Int = 0) { self.primary.reserveCapacity(capacity) }

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

    static func same(_ row: StoredRow, _ raw: UnsafeRawBufferPointer) -> Bool {
        row.bytes.count == raw.count
            && row.bytes.withUnsafeBytes { stored in
                guard let a = stored.baseAddress, let b = raw.baseAddress else { return raw.count == 0 }
                return memcmp(a, b, raw.count) == 0
            }
    }

    package func find(_ slice: ArraySlice<UInt8>, digest: UInt64) -> StoredRow? {
        slice.withUnsafeBytes { raw in
            if let row = self.primary[digest], Self.same(row, raw) { return row }
            return self.overflow.first { $0.0 == digest && Self.same($0.1, raw) }?.1
        }
    }

    package mutating func insert(_ row: StoredRow, digest: UInt64) {
        if self.primary[digest] == nil {
            self.primary[digest] = row
        } else {
            self.overflow.append((digest, row))
        }
    }

    package var count: Int { self.primary.count + self.overflow.count }
}

/// A decoded snapshot plus what the next decode may reuse: every row's bytes with its entity.
package struct DecodedSnapshot: Sendable {
    package let content: ConfigContent
    package let rows: [String: RowIndex]
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
        var rows: [String: RowIndex] = [:]
        var fresh: [String: Set<String>] = [:]
        var trusted: [String] = []
        do throws(JSONParseError) {
            try scanner.expect(UInt8(ascii: "{"))
            if try !scanner.consumeIf(UInt8(ascii: "}")) {
                repeat {
                    let key = try scanner.key()
                    if EntityRegistry.schema(key) != nil {
                        let before = previous?.rows[key] ?? RowIndex()
                        var list: [[String: JSON]] = []
                        var index = RowIndex(capacity: before.count)
                        var parsed = Set<String>()
                        try scanner.elements { slice throws(JSONParseError) in
                            let digest = slice.withUnsafeBytes(RowIndex.digest)
                            if let row = before.find(slice, digest: digest) {
                                list.append(row.entity)
                                index.insert(row, digest: digest)
                                return
                            }
                            let bytes = Array(slice)
                            guard case .object(let entity) = try JSONParser.parse(bytes) else {
                                throw JSONParseError(reason: "\(key) row is not an object", offset: 0)
                            }
                            list.append(entity)
                            index.insert(StoredRow(bytes: bytes, entity: entity), digest: digest)
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
