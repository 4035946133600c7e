/// What turns one configuration into the next: per entity type, rows added or changed (whole, canonical) and ids
/// removed. Its encoding is a `delta` frame's payload (Proto/PROTOCOL.md).
package struct ConfigDelta: Sendable, Equatable {
    /// Per type, new or changed rows in id order.
    package var upserts: [String: [CanonicalRow]] = [:]
    /// Per type, removed ids in order.
    package var deletes: [String: [String]] = [:]

    package init() {}

    package var isEmpty: Bool { self.upserts.values.allSatisfy(\.isEmpty) && self.deletes.values.allSatisfy(\.isEmpty) }

    /// Rows added, changed or removed.
    package var rowCount: Int {
        self.upserts.values.reduce(0) { $0 + $1.count } + self.deletes.values.reduce(0) { $0 + $1.count }
    }

    /// `{"delete":{"<type>":["<id>",…]},"upsert":{"<type>":[<row>,…]}}`: keys in UTF-8 order, no white space, only
    /// types with changes.
    package func encode() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + self.upserts.values.reduce(0) { $0 + $1.reduce(0) { $0 + $1.bytes.count + 1 } })
        func section(_ name: String, _ types: [String], _ body: (String) -> Void) {
            out.append(contentsOf: JSONWriter.bytes(.string(name)))
            out.append(contentsOf: Array(":{".utf8))
            for (i, type) in types.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: JSONWriter.bytes(.string(type)))
                out.append(contentsOf: Array(":[".utf8))
                body(type)
                out.append(UInt8(ascii: "]"))
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "{"))
        section("delete", ConfigHash.typeOrder.filter { !(self.deletes[$0] ?? []).isEmpty }) { type in
            for (i, id) in (self.deletes[type] ?? []).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: JSONWriter.bytes(.string(id)))
            }
        }
        out.append(UInt8(ascii: ","))
        section("upsert", ConfigHash.typeOrder.filter { !(self.upserts[$0] ?? []).isEmpty }) { type in
            for (i, row) in (self.upserts[type] ?? []).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: row.bytes)
            }
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}

/// A delta payload read back, its new and changed rows parsed.
package struct DecodedDelta: Sendable {
    package var upserts: [String: [StoredRow]] = [:]
    package var deletes: [String: [String]] = [:]

    package init() {}

    package var canonical: ConfigDelta {
        var d = ConfigDelta()
        d.upserts = self.upserts.mapValues { $0.map(\.row) }
        d.deletes = self.deletes
        return d
    }

    /// Reads a delta payload; every id list must be in strictly increasing order and an id may not be both
    /// removed and upserted.
    package static func decode(_ payload: [UInt8]) throws(ConfigContent.DecodeError) -> DecodedDelta {
        var out = DecodedDelta()
        let hasher = RowHasher()
        var scanner = RowScanner(payload)
        do throws(JSONParseError) {
            func types(_ body: (String) throws(JSONParseError) -> Void) throws(JSONParseError) {
                try scanner.expect(UInt8(ascii: "{"))
                if try scanner.consumeIf(UInt8(ascii: "}")) { return }
                repeat {
                    let type = try scanner.key()
                    guard EntityRegistry.schema(type) != nil else {
                        throw JSONParseError(reason: "unknown entity type '\(type)' in delta", offset: scanner.i)
                    }
                    try body(type)
                } while try scanner.consumeIf(UInt8(ascii: ","))
                try scanner.expect(UInt8(ascii: "}"))
            }
            func ordered(_ ids: [String], _ type: String) throws(JSONParseError) {
                for (a, b) in zip(ids, ids.dropFirst()) where !(a < b) {
                    throw JSONParseError(reason: "delta \(type) ids are not in order (or repeat): \(b)", offset: 0)
                }
            }
            try scanner.expect(UInt8(ascii: "{"))
            if try !scanner.consumeIf(UInt8(ascii: "}")) {
                repeat {
                    let section = try scanner.key()
                    switch section {
                    case "delete":
                        try types { type throws(JSONParseError) in
                            var ids: [String] = []
                            try scanner.elements { slice throws(JSONParseError) in
                                guard case .string(let id) = try JSONParser.parse(Array(slice)) else {
                                    throw JSONParseError(reason: "delta \(type) deletes must be id strings", offset: 0)
                                }
                                ids.append(id)
                            }
                            try ordered(ids, type)
                            if !ids.isEmpty { out.deletes[type] = ids }
                        }
                    case "upsert":
                        try types { type throws(JSONParseError) in
                            var rows: [StoredRow] = []
                            let fields = FieldTable.canonical(type)
                            try scanner.elements { slice throws(JSONParseError) in
                                rows.append(try IncrementalDecoder.parseRow(Array(slice), digest: hasher.digest(slice),
                                                                            type: type, fields: fields))
                            }
                            try ordered(rows.map(\.row.id), type)
                            if !rows.isEmpty { out.upserts[type] = rows }
                        }
                    default:
                        _ = try scanner.value()  // a newer minor's addition: skipped
                    }
                } while try scanner.consumeIf(UInt8(ascii: ","))
                try scanner.expect(UInt8(ascii: "}"))
            }
            try scanner.end()
        } catch {
            throw ConfigContent.DecodeError(description: "delta payload is not valid: \(error)")
        }
        for (type, rows) in out.upserts {
            let deleted = Set(out.deletes[type] ?? [])
            if let both = rows.first(where: { deleted.contains($0.row.id) }) {
                throw ConfigContent.DecodeError(description: "delta both removes and upserts \(type) \(both.row.id)")
            }
        }
        return out
    }
}
