/// A configuration row in canonical form: the entity's id, its canonical JSON bytes and their SHA-256.
package struct CanonicalRow: Sendable, Equatable {
    package let id: String
    package let bytes: [UInt8]
    package let digest: RowDigest

    package init(id: String, bytes: [UInt8], digest: RowDigest) {
        self.id = id
        self.bytes = bytes
        self.digest = digest
    }

    package init(id: String, bytes: [UInt8], hasher: RowHasher) {
        self.init(id: id, bytes: bytes, digest: hasher.digest(bytes))
    }
}

/// Something kept in id order per entity type (snapshot rows on both planes).
package protocol IdentifiedRow: Sendable {
    var rowID: String { get }
    var rowDigest: RowDigest { get }
}

extension CanonicalRow: IdentifiedRow {
    package var rowID: String { self.id }
    package var rowDigest: RowDigest { self.digest }
}

/// The snapshot hash (Proto/PROTOCOL.md, "The configuration hash"): SHA-256 over a manifest of the settings and,
/// per entity type, the SHA-256 of every row in id order. A one-row change costs one row digest and one pass over
/// 32 bytes per row, not a rehash of the whole document; equal configurations still have equal hashes.
package enum ConfigHash {
    static let magic = Array("portcullis-config/1\n".utf8)

    /// The manifest's hash. `digests` yields, for an entity type, its rows' digests in id order.
    package static func combine(trustedIPs: [String], count: (String) -> Int,
                                digests: (String, (RowDigest) -> Void) -> Void) -> String
    {
        var manifest = Self.magic
        manifest.append(contentsOf: Array("_format_version=".utf8))
        manifest.append(contentsOf: JSONWriter.bytes(.string(ConfigContent.formatVersion)))
        manifest.append(contentsOf: Array("\n_trusted_ips=".utf8))
        manifest.append(contentsOf: JSONWriter.bytes(.array(trustedIPs.map(JSON.string))))
        manifest.append(UInt8(ascii: "\n"))
        var total = 0
        for schema in EntityRegistry.all { total += count(schema.name) }
        manifest.reserveCapacity(manifest.count + total * 32 + 512)
        for name in Self.typeOrder {
            manifest.append(contentsOf: Array("\(name)=\(count(name))\n".utf8))
            digests(name) { $0.append(to: &manifest) }
        }
        return Digest.sha256Hex(manifest)
    }

    /// Entity type names in UTF-8 byte order.
    package static let typeOrder: [String] = EntityRegistry.all.map(\.name).sorted {
        $0.utf8.lexicographicallyPrecedes($1.utf8)
    }

    package static func of<R: IdentifiedRow>(rows: [String: [R]], trustedIPs: [String]) -> String {
        self.combine(trustedIPs: trustedIPs, count: { rows[$0]?.count ?? 0 }) { name, add in
            for r in rows[name] ?? [] { add(r.rowDigest) }
        }
    }

    /// The hash of stored canonical bodies (each type's in id order).
    package static func of(bodies: [String: [String]], trustedIPs: [String]) -> String {
        let hasher = RowHasher()
        return self.combine(trustedIPs: trustedIPs, count: { bodies[$0]?.count ?? 0 }) { name, add in
            for b in bodies[name] ?? [] {
                var b = b
                add(b.withUTF8 { hasher.digest(UnsafeRawBufferPointer($0)) })
            }
        }
    }

    package static func of(_ content: ConfigContent) -> String {
        let hasher = RowHasher()
        return self.combine(trustedIPs: content.trustedIPs, count: { content[$0].count }) { name, add in
            for e in content[name] { add(hasher.digest(JSONWriter.bytes(.object(e)))) }
        }
    }

    /// The hash of a canonical payload (``ConfigContent/canonicalBytes()``), its rows hashed as they appear.
    package static func of(payload: [UInt8]) throws(ConfigContent.DecodeError) -> String {
        let hasher = RowHasher()
        var digests: [String: [RowDigest]] = [:]
        var trusted: [String] = []
        do throws(JSONParseError) {
            try RowScanner.walkDocument(payload) { key, scanner throws(JSONParseError) in
                var list: [RowDigest] = []
                try scanner.elements { slice throws(JSONParseError) in list.append(hasher.digest(slice)) }
                digests[key] = list
            } setting: { key, value in
                if key == "_trusted_ips" { trusted = (value.arrayValue ?? []).compactMap(\.stringValue) }
            }
        } catch {
            throw ConfigContent.DecodeError(description: "snapshot payload is not valid: \(error)")
        }
        return self.combine(trustedIPs: trusted, count: { digests[$0]?.count ?? 0 }) { name, add in
            for d in digests[name] ?? [] { add(d) }
        }
    }
}

/// Merging a sorted run of changes into rows kept in id order.
package enum RowMerge {
    /// Whether rows in id order hold `id` (binary search).
    package static func contains<R: IdentifiedRow>(_ rows: [R], id: String) -> Bool {
        var lo = 0
        var hi = rows.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let m = rows[mid].rowID
            if m == id { return true }
            if m < id { lo = mid + 1 } else { hi = mid }
        }
        return false
    }

    /// `rows` without the ids in `deletes`, with `upserts` (sorted by id) inserted or replacing rows of the same id.
    package static func apply<R: IdentifiedRow>(_ rows: [R], deletes: Set<String>, upserts: [R]) -> [R] {
        if deletes.isEmpty && upserts.isEmpty { return rows }
        var out: [R] = []
        out.reserveCapacity(rows.count + upserts.count)
        var u = 0
        for r in rows {
            while u < upserts.count, upserts[u].rowID < r.rowID {
                out.append(upserts[u])
                u += 1
            }
            if u < upserts.count, upserts[u].rowID == r.rowID {
                out.append(upserts[u])
                u += 1
                continue
            }
            if deletes.contains(r.rowID) { continue }
            out.append(r)
        }
        while u < upserts.count {
            out.append(upserts[u])
            u += 1
        }
        return out
    }
}

/// The whole configuration as canonical rows: the control plane's in-memory copy of what it last published.
package struct ConfigRows: Sendable {
    package private(set) var rows: [String: [CanonicalRow]]
    package let trustedIPs: [String]
    package let hash: String

    package init(rows: [String: [CanonicalRow]], trustedIPs: [String]) {
        var sorted: [String: [CanonicalRow]] = [:]
        for schema in EntityRegistry.all {
            let list = rows[schema.name] ?? []
            let inOrder = zip(list, list.dropFirst()).allSatisfy { $0.id < $1.id }
            sorted[schema.name] = inOrder ? list : list.sorted { $0.id < $1.id }
        }
        self.rows = sorted
        self.trustedIPs = trustedIPs
        self.hash = ConfigHash.of(rows: sorted, trustedIPs: trustedIPs)
    }

    /// Stored bodies with their ids, per type.
    package init(bodies: [String: [(id: String, body: String)]], trustedIPs: [String]) {
        let hasher = RowHasher()
        var rows: [String: [CanonicalRow]] = [:]
        for (type, list) in bodies {
            rows[type] = list.map { CanonicalRow(id: $0.id, bytes: Array($0.body.utf8), hasher: hasher) }
        }
        self.init(rows: rows, trustedIPs: trustedIPs)
    }

    package var counts: [String: Int] { self.rows.mapValues(\.count) }

    package subscript(type: String) -> [CanonicalRow] { self.rows[type] ?? [] }

    /// The length of ``canonicalBytes()``, without building it.
    package var canonicalSize: Int {
        var keys = ["_format_version"]
        var size = 2 + JSONWriter.bytes(.string(ConfigContent.formatVersion)).count
        if !self.trustedIPs.isEmpty {
            keys.append("_trusted_ips")
            size += JSONWriter.bytes(.array(self.trustedIPs.map(JSON.string))).count
        }
        for schema in EntityRegistry.all {
            keys.append(schema.name)
            let list = self[schema.name]
            size += 2 + max(list.count - 1, 0) + list.reduce(0) { $0 + $1.bytes.count }
        }
        size += keys.reduce(0) { $0 + JSONWriter.bytes(.string($1)).count + 1 } + keys.count - 1
        return size
    }

    /// The snapshot payload (``ConfigContent/canonicalBytes(bodies:trustedIPs:)`` layout).
    package func canonicalBytes() -> [UInt8] {
        ConfigContent.canonicalBytes(rows: self.rows.mapValues { $0.map(\.bytes) }, trustedIPs: self.trustedIPs)
    }

    /// This configuration with a delta applied.
    package func applying(_ delta: ConfigDelta) -> ConfigRows {
        var rows = self.rows
        for type in Set(delta.upserts.keys).union(delta.deletes.keys) {
            rows[type] = RowMerge.apply(rows[type] ?? [], deletes: Set(delta.deletes[type] ?? []),
                                        upserts: delta.upserts[type] ?? [])
        }
        return ConfigRows(rows: rows, trustedIPs: self.trustedIPs)
    }

    /// What turns `self` into `newer`: rows added or changed (by digest), ids removed. Types in `only`, when given.
    package func delta(to newer: ConfigRows, only: Set<String>? = nil) -> ConfigDelta {
        var delta = ConfigDelta()
        for schema in EntityRegistry.all where only?.contains(schema.name) ?? true {
            let old = self[schema.name]
            let new = newer[schema.name]
            var i = 0
            var j = 0
            var up: [CanonicalRow] = []
            var del: [String] = []
            while i < old.count || j < new.count {
                if j == new.count || (i < old.count && old[i].id < new[j].id) {
                    del.append(old[i].id)
                    i += 1
                } else if i == old.count || new[j].id < old[i].id {
                    up.append(new[j])
                    j += 1
                } else {
                    if old[i].digest != new[j].digest { up.append(new[j]) }
                    i += 1
                    j += 1
                }
            }
            if !up.isEmpty { delta.upserts[schema.name] = up }
            if !del.isEmpty { delta.deletes[schema.name] = del }
        }
        return delta
    }
}
