/// The whole configuration at one version: every entity of every type exactly as stored (admin-API shape,
/// foreign keys as `{"id": …}`), sorted by id, plus gateway-wide settings data planes need.
///
/// Its canonical encoding (``canonicalBytes()``) is the snapshot payload; ``ConfigHash`` of its rows is the
/// snapshot hash, so equal configurations always have equal hashes.
package struct ConfigContent: Sendable, Equatable {
    package private(set) var entities: [String: [JSONObject]]
    /// Gateway-wide trusted sources (CIDRs) from the control plane's `--trusted-ips`.
    package var trustedIPs: [String]

    package static let formatVersion = "3.0"

    package init(entities: [String: [JSONObject]], trustedIPs: [String] = []) {
        var sorted: [String: [JSONObject]] = [:]
        for schema in EntityRegistry.all {
            let rows = entities[schema.name] ?? []
            let keyed = rows.map { ($0["id"]?.stringValue ?? "", $0) }
            // Decoded snapshots arrive sorted already: check in one pass before sorting.
            let inOrder = zip(keyed, keyed.dropFirst()).allSatisfy { $0.0 < $1.0 }
            sorted[schema.name] = inOrder ? rows : keyed.sorted { $0.0 < $1.0 }.map(\.1)
        }
        self.entities = sorted
        self.trustedIPs = trustedIPs
    }

    /// Entities already in id order per type (decoded snapshots): nothing is checked or sorted again.
    package init(sortedEntities: [String: [JSONObject]], trustedIPs: [String]) {
        var all = sortedEntities
        for schema in EntityRegistry.all where all[schema.name] == nil { all[schema.name] = [] }
        self.entities = all
        self.trustedIPs = trustedIPs
    }

    package subscript(type: String) -> [JSONObject] { self.entities[type] ?? [] }

    package var counts: [String: Int] { self.entities.mapValues(\.count) }

    package var json: JSON {
        var o: JSONObject = ["_format_version": .string(Self.formatVersion)]
        if !self.trustedIPs.isEmpty { o["_trusted_ips"] = .array(self.trustedIPs.map(JSON.string)) }
        for (k, v) in self.entities { o[k] = .array(v.map(JSON.object)) }
        return .object(o)
    }

    package func canonicalBytes() -> [UInt8] {
        JSONWriter.bytes(self.json, capacityHint: 1024 + self.entities.values.reduce(0) { $0 + $1.count } * 512)
    }

    package struct DecodeError: Error, Sendable, CustomStringConvertible {
        package var description: String
    }

    /// Reads a canonical payload back (stored snapshots, the data plane's cache).
    package static func decode(_ bytes: [UInt8]) throws(DecodeError) -> ConfigContent {
        let json: JSON
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw DecodeError(description: "snapshot payload is not JSON: \(error)")
        }
        guard case .object(let o) = json else { throw DecodeError(description: "snapshot payload is not an object") }
        var entities: [String: [JSONObject]] = [:]
        for schema in EntityRegistry.all {
            guard let v = o[schema.name] else { continue }
            guard case .array(let rows) = v else { throw DecodeError(description: "\(schema.name) is not an array") }
            entities[schema.name] = try rows.map { row throws(DecodeError) in
                guard case .object(let r) = row else { throw DecodeError(description: "\(schema.name) row is not an object") }
                return r
            }
        }
        let trusted = (o["_trusted_ips"]?.arrayValue ?? []).compactMap(\.stringValue)
        return ConfigContent(entities: entities, trustedIPs: trusted)
    }
}

extension ConfigContent {
    /// The canonical payload assembled from entities that are already canonical JSON (as the store keeps them),
    /// without parsing them: byte-for-byte what ``canonicalBytes()`` gives for the parsed content, as long as
    /// each type's bodies are in id order.
    /// The canonical payload from rows that are canonical JSON bytes, each type's in id order.
    package static func canonicalBytes(rows bodies: [String: [[UInt8]]], trustedIPs: [String]) -> [UInt8] {
        var keys: [(String, [UInt8])] = [("_format_version", JSONWriter.bytes(.string(Self.formatVersion)))]
        if !trustedIPs.isEmpty {
            keys.append(("_trusted_ips", JSONWriter.bytes(.array(trustedIPs.map(JSON.string)))))
        }
        var total = 64
        for rows in bodies.values { for r in rows { total += r.count + 1 } }
        var out: [UInt8] = []
        out.reserveCapacity(total + 256)
        for schema in EntityRegistry.all { keys.append((schema.name, [])) }
        keys.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        out.append(UInt8(ascii: "{"))
        for (i, (key, value)) in keys.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: JSONWriter.bytes(.string(key)))
            out.append(UInt8(ascii: ":"))
            if let rows = bodies[key] ?? (EntityRegistry.schema(key) != nil ? [] : nil) {
                out.append(UInt8(ascii: "["))
                for (j, row) in rows.enumerated() {
                    if j > 0 { out.append(UInt8(ascii: ",")) }
                    out.append(contentsOf: row)
                }
                out.append(UInt8(ascii: "]"))
            } else {
                out.append(contentsOf: value)
            }
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}
