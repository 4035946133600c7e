import Foundation
import Synchronization

/// One decoded row kept for the next decode: its canonical form and the (validated) entity it encodes.
package struct StoredRow: Sendable, IdentifiedRow {
    package let row: CanonicalRow
    package let entity: JSONObject
    /// Whether the entity's fields were found, as it was parsed, to be exactly its schema's fields with conforming
    /// values (``JSONParser/parseRecord(_:fields:)``): validation then skips that check. False says nothing.
    package let fieldsConform: Bool

    package init(row: CanonicalRow, entity: JSONObject, fieldsConform: Bool = false) {
        self.row = row
        self.entity = entity
        self.fieldsConform = fieldsConform
    }

    package var rowID: String { self.row.id }
    package var rowDigest: RowDigest { self.row.digest }
}

/// A decoded configuration plus what the next decode or delta reuses: every row with its bytes, digest and entity.
package struct DecodedSnapshot: Sendable {
    package let content: ConfigContent
    /// Per type, the rows in id order (parallel to `content`'s arrays).
    package let rows: [String: [StoredRow]]
    /// Per type, the ids of entities parsed in this decode, new or changed (the others were reused unchanged).
    package let fresh: [String: Set<String>]
    /// Per type, the ids of entities the previous configuration had and this one does not (deltas only; a full
    /// decode leaves it empty).
    package let removed: [String: Set<String>]
    /// The configuration hash (``ConfigHash``).
    package let hash: String
    let typeDigests: [String: TypeDigest]

    /// - Parameter previous: for a delta, the snapshot it applies to: types it did not touch keep their entity
    ///   arrays and type digests.
    init(rows: [String: [StoredRow]], trustedIPs: [String], fresh: [String: Set<String>],
         removed: [String: Set<String>], previous: DecodedSnapshot?)
    {
        var entities: [String: [JSONObject]] = [:]
        var digests: [String: TypeDigest] = [:]
        for (type, list) in rows {
            if let previous, fresh[type] == nil, removed[type] == nil, let same = previous.content.entities[type],
                let digest = previous.typeDigests[type]
            {
                entities[type] = same
                digests[type] = digest
            } else {
                entities[type] = list.map(\.entity)
                digests[type] = TypeDigest(rows: list)
            }
        }
        self.content = ConfigContent(sortedEntities: entities, trustedIPs: trustedIPs)
        self.rows = rows
        self.fresh = fresh
        self.removed = removed
        self.typeDigests = digests
        self.hash = ConfigHash.combine(trustedIPs: trustedIPs, types: digests)
    }

    /// The canonical payload of this configuration (what a full snapshot of it carries).
    package func canonicalBytes() -> [UInt8] {
        ConfigContent.canonicalBytes(rows: self.rows.mapValues { $0.map(\.row.bytes) },
                                     trustedIPs: self.content.trustedIPs)
    }

    /// This configuration with a delta applied. Fails when the delta does not fit (it removes or is based on rows
    /// this configuration does not have).
    package func applying(_ delta: DecodedDelta) throws(ConfigContent.DecodeError) -> DecodedSnapshot {
        var rows = self.rows
        var fresh: [String: Set<String>] = [:]
        var removed: [String: Set<String>] = [:]
        for type in Set(delta.upserts.keys).union(delta.deletes.keys) {
            let old = rows[type] ?? []
            let deletes = Set(delta.deletes[type] ?? [])
            let missing = deletes.filter { !RowMerge.contains(old, id: $0) }
            if !missing.isEmpty {
                throw ConfigContent.DecodeError(description: "the delta removes \(type) this data plane does not have: "
                    + missing.sorted().prefix(3).joined(separator: ", "))
            }
            let merged = RowMerge.apply(old, deletes: deletes, upserts: delta.upserts[type] ?? [])
            rows[type] = merged
            fresh[type] = Set((delta.upserts[type] ?? []).map(\.rowID))
            removed[type] = deletes
        }
        return DecodedSnapshot(rows: rows, trustedIPs: self.content.trustedIPs, fresh: fresh, removed: removed,
                               previous: self)
    }
}

/// Decodes a canonical snapshot payload (the format of ``ConfigContent/canonicalBytes()``) reusing, row by row,
/// the entities of the previous snapshot whose bytes did not change (same SHA-256): only new or changed rows are
/// parsed. Rows are found by a scan that tracks strings and nesting without building values.
package enum IncrementalDecoder {
    package static func decode(_ payload: [UInt8], previous: DecodedSnapshot?) throws(ConfigContent.DecodeError)
        -> DecodedSnapshot
    {
        var rows: [String: [StoredRow]] = [:]
        var fresh: [String: Set<String>] = [:]
        var trusted: [String] = []
        do throws(JSONParseError) {
            // Row boundaries first (a fast scan), then rows hashed and parsed on every core, then checked in order.
            var slices: [(String, [ArraySlice<UInt8>])] = []
            try RowScanner.walkDocument(payload) { key, scanner throws(JSONParseError) in
                var list: [ArraySlice<UInt8>] = []
                try scanner.elements { list.append($0) }
                slices.append((key, list))
            } setting: { key, value in
                if key == "_trusted_ips" { trusted = (value.arrayValue ?? []).compactMap(\.stringValue) }
            }
            for (key, list) in slices {
                var reuse: [RowDigest: StoredRow] = [:]
                if let before = previous?.rows[key] {
                    reuse.reserveCapacity(before.count)
                    for r in before { reuse[r.row.digest] = r }
                }
                let index = reuse
                let fields = FieldTable.canonical(key)
                // A row that does not parse leaves a placeholder and its error here (the first such row in order
                // wins, whichever core saw it first): rows come back as they are kept, with no result to unwrap.
                let failure = Mutex<(row: Int, error: JSONParseError)?>(nil)
                let decoded = Parallel.map(list.count, makeState: { RowHasher() }) { hasher, i -> StoredRow in
                    let slice = list[i]
                    let digest = hasher.digest(slice)
                    if let same = index[digest] { return same }
                    do throws(JSONParseError) {
                        return try Self.parseRow(Array(slice), digest: digest, type: key, fields: fields)
                    } catch {
                        failure.withLock { first in
                            if first.map({ i < $0.row }) ?? true { first = (i, error) }
                        }
                        return StoredRow(row: CanonicalRow(id: "", bytes: [], digest: digest), entity: [:])
                    }
                }
                if let first = failure.withLock({ $0 }) { throw first.error }
                // In id order, each id once; and which rows this decode parsed (all of them when nothing could be
                // reused). Read in place.
                var parsed = Set<String>(minimumCapacity: index.isEmpty ? decoded.count : 0)
                try decoded.withUnsafeBufferPointer { (out) throws(JSONParseError) in
                    for i in out.indices {
                        if i > 0, !(out[i - 1].row.id < out[i].row.id) {
                            throw JSONParseError(reason: "\(key) rows are not in id order (or an id repeats): "
                                + out[i].row.id, offset: 0)
                        }
                        if index.isEmpty || index[out[i].row.digest] == nil { parsed.insert(out[i].row.id) }
                    }
                }
                rows[key] = decoded
                fresh[key] = parsed
            }
        } catch {
            throw ConfigContent.DecodeError(description: "snapshot payload is not valid: \(error)")
        }
        for schema in EntityRegistry.all where rows[schema.name] == nil { rows[schema.name] = [] }
        return DecodedSnapshot(rows: rows, trustedIPs: trusted, fresh: fresh, removed: [:], previous: nil)
    }

    /// - Parameter fields: the type's ``FieldTable``: the row's fields are checked against it as they are parsed.
    static func parseRow(_ bytes: [UInt8], digest: RowDigest, type: String, fields: [FieldTable.Column]?)
        throws(JSONParseError) -> StoredRow
    {
        let (object, conforms) = try JSONParser.parseRecord(bytes, fields: fields)
        guard let entity = object else { throw JSONParseError(reason: "\(type) row is not an object", offset: 0) }
        guard let id = entity["id"]?.stringValue, !id.isEmpty else {
            throw JSONParseError(reason: "\(type) row has no id", offset: 0)
        }
        return StoredRow(row: CanonicalRow(id: id, bytes: bytes, digest: digest), entity: entity, fieldsConform: conforms)
    }
}

/// Finds value boundaries in JSON text without building values (strings, escapes and nesting are tracked).
struct RowScanner {
    /// Walks a configuration document: `rows` for each entity type's array (the scanner at its `[`), `setting` with
    /// every other key's parsed value.
    static func walkDocument(
        _ payload: [UInt8], rows: (String, inout RowScanner) throws(JSONParseError) -> Void,
        setting: (String, JSON) -> Void
    ) throws(JSONParseError) {
        var scanner = RowScanner(payload)
        try scanner.expect(UInt8(ascii: "{"))
        if try !scanner.consumeIf(UInt8(ascii: "}")) {
            repeat {
                let key = try scanner.key()
                if EntityRegistry.schema(key) != nil {
                    try rows(key, &scanner)
                } else {
                    setting(key, try JSONParser.parse(Array(try scanner.value())))
                }
            } while try scanner.consumeIf(UInt8(ascii: ","))
            try scanner.expect(UInt8(ascii: "}"))
        }
        try scanner.end()
    }

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
        let (end, stop) = self.bytes.withUnsafeBufferPointer { Self.scan($0, from: start) }
        self.i = end
        switch stop {
        case .complete: return self.bytes[start..<end]
        case .scalar: return try self.scalar(start)
        case .tooDeep: throw self.error("nesting too deep")
        case .truncated: throw self.error("unexpected end of input")
        }
    }

    /// How a scan for the end of a value stopped.
    private enum Stop {
        /// At the end of the value (after its last byte).
        case complete
        /// At the byte after a scalar (or where a value was expected and none starts).
        case scalar
        case tooDeep
        case truncated
    }

    /// Where the value starting at `start` ends. Reads through a buffer (no bounds check or reference count per
    /// byte) and runs through string contents in a loop of their own: a whole snapshot's rows are scanned on one
    /// core before they are parsed on all of them.
    private static func scan(_ b: UnsafeBufferPointer<UInt8>, from start: Int) -> (Int, Stop) {
        var i = start
        var depth = 0
        let n = b.count
        while i < n {
            let c = b[i]
            switch c {
            case UInt8(ascii: "\""):
                // String contents: only a quote ends them; a backslash escapes the byte after it.
                i += 1
                while true {
                    guard i < n else { return (i, .truncated) }
                    let s = b[i]
                    if s == UInt8(ascii: "\"") { break }
                    i += s == UInt8(ascii: "\\") ? 2 : 1
                }
                if depth == 0 { return (i + 1, .complete) }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                guard depth <= JSONParser.maxDepth else { return (i, .tooDeep) }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if depth == 0 { return (i, .scalar) }
                depth -= 1
                if depth == 0 { return (i + 1, .complete) }
            case UInt8(ascii: ","), 0x20, 0x0A, 0x0D, 0x09:
                if depth == 0 { return (i, .scalar) }
            default:
                break
            }
            i += 1
        }
        return depth == 0 && i > start ? (i, .complete) : (i, .truncated)
    }

    private func scalar(_ start: Int) throws(JSONParseError) -> ArraySlice<UInt8> {
        guard self.i > start else { throw self.error("expected a value") }
        return self.bytes[start..<self.i]
    }
}
