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

/// One entity type's part of the configuration hash: how many rows, and the SHA-256 of their digests in id order.
package struct TypeDigest: Sendable, Equatable {
    package var count: Int
    package var digest: RowDigest

    /// Over row digests in id order (hashed in place: `RowDigest` is 32 contiguous bytes).
    package init(_ digests: [RowDigest]) {
        self.count = digests.count
        let bytes = digests.withUnsafeBytes { raw in
            Digest.sha256(Array(UnsafeRawBufferPointer(rebasing: raw[...])))
        }
        var d = RowDigest(a: 0, b: 0, c: 0, d: 0)
        withUnsafeMutableBytes(of: &d) { out in
            for (i, byte) in bytes.prefix(32).enumerated() { out[i] = byte }
        }
        self.digest = d
    }

    package init<R: IdentifiedRow>(rows: [R]) {
        var digests: [RowDigest] = []
        digests.reserveCapacity(rows.count)
        rows.withUnsafeBufferPointer { buffer in
            for i in buffer.indices { digests.append(buffer[i].rowDigest) }
        }
        self.init(digests)
    }
}

/// The snapshot hash (Proto/PROTOCOL.md, "The configuration hash"): SHA-256 over a manifest of the settings and,
/// per entity type, the row count and the SHA-256 of its rows' SHA-256s in id order. A one-row change costs one
/// row digest and one pass over 32 bytes per row of its type only; equal configurations have equal hashes.
package enum ConfigHash {
    static let magic = Array("portcullis-config/1\n".utf8)

    /// The manifest's hash from each type's digest (a missing type counts as empty).
    package static func combine(trustedIPs: [String], types: [String: TypeDigest]) -> String {
        var manifest = Self.magic
        manifest.append(contentsOf: Array("_format_version=".utf8))
        manifest.append(contentsOf: JSONWriter.bytes(.string(ConfigContent.formatVersion)))
        manifest.append(contentsOf: Array("\n_trusted_ips=".utf8))
        manifest.append(contentsOf: JSONWriter.bytes(.array(trustedIPs.map(JSON.string))))
        manifest.append(UInt8(ascii: "\n"))
        for name in Self.typeOrder {
            let t = types[name] ?? Self.empty
            manifest.append(contentsOf: Array("\(name)=\(t.count)\n".utf8))
            t.digest.append(to: &manifest)
        }
        return Digest.sha256Hex(manifest)
    }

    static let empty = TypeDigest([])

    /// Entity type names in UTF-8 byte order.
    package static let typeOrder: [String] = EntityRegistry.all.map(\.name).sorted {
        $0.utf8.lexicographicallyPrecedes($1.utf8)
    }

    package static func of<R: IdentifiedRow>(rows: [String: [R]], trustedIPs: [String]) -> String {
        self.combine(trustedIPs: trustedIPs, types: rows.mapValues { TypeDigest(rows: $0) })
    }

    /// The hash of stored canonical bodies (each type's in id order).
    package static func of(bodies: [String: [String]], trustedIPs: [String]) -> String {
        let hasher = RowHasher()
        return self.combine(trustedIPs: trustedIPs, types: bodies.mapValues { list in
            TypeDigest(list.map { b in
                var b = b
                return b.withUTF8 { hasher.digest(UnsafeRawBufferPointer($0)) }
            })
        })
    }

    package static func of(_ content: ConfigContent) -> String {
        let hasher = RowHasher()
        return self.combine(trustedIPs: content.trustedIPs, types: content.entities.mapValues { list in
            TypeDigest(list.map { hasher.digest(JSONWriter.bytes(.object($0))) })
        })
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
        return self.combine(trustedIPs: trusted, types: digests.mapValues(TypeDigest.init))
    }
}

/// Merging a sorted run of changes into rows kept in id order.
package enum RowMerge {
    /// Whether rows in id order hold `id` (binary search).
    package static func contains<R: IdentifiedRow>(_ rows: [R], id: String) -> Bool { self.index(rows, id: id) != nil }

    /// Where rows in id order hold `id` (binary search).
    package static func index<R: IdentifiedRow>(_ rows: [R], id: String) -> Int? {
        var lo = 0
        var hi = rows.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let m = rows[mid].rowID
            if m == id { return mid }
            if m < id { lo = mid + 1 } else { hi = mid }
        }
        return nil
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
    let typeDigests: [String: TypeDigest]

    package init(rows: [String: [CanonicalRow]], trustedIPs: [String]) {
        self.init(rows: rows, trustedIPs: trustedIPs, reusing: nil, changed: [])
    }

    /// `rows` with only the types in `changed` checked for order and hashed again; the others are `previous`'s.
    package init(rows: [String: [CanonicalRow]], trustedIPs: [String], reusing previous: ConfigRows?,
                 changed: Set<String>)
    {
        var sorted: [String: [CanonicalRow]] = [:]
        var digests: [String: TypeDigest] = [:]
        for schema in EntityRegistry.all {
            let list = rows[schema.name] ?? []
            if let previous, !changed.contains(schema.name), let same = previous.typeDigests[schema.name] {
                sorted[schema.name] = list
                digests[schema.name] = same
                continue
            }
            let inOrder = zip(list, list.dropFirst()).allSatisfy { $0.id < $1.id }
            let ordered = inOrder ? list : list.sorted { $0.id < $1.id }
            sorted[schema.name] = ordered
            digests[schema.name] = TypeDigest(rows: ordered)
        }
        self.rows = sorted
        self.trustedIPs = trustedIPs
        self.typeDigests = digests
        self.hash = ConfigHash.combine(trustedIPs: trustedIPs, types: digests)
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

    /// The snapshot payload (``ConfigContent/canonicalBytes(rows:trustedIPs:)`` layout).
    package func canonicalBytes() -> [UInt8] {
        ConfigContent.canonicalBytes(rows: self.rows.mapValues { $0.map(\.bytes) }, trustedIPs: self.trustedIPs)
    }

    /// This configuration with a delta applied.
    package func applying(_ delta: ConfigDelta) -> ConfigRows {
        var rows = self.rows
        let changed = Set(delta.upserts.keys).union(delta.deletes.keys)
        for type in changed {
            rows[type] = RowMerge.apply(rows[type] ?? [], deletes: Set(delta.deletes[type] ?? []),
                                        upserts: delta.upserts[type] ?? [])
        }
        return ConfigRows(rows: rows, trustedIPs: self.trustedIPs, reusing: self, changed: changed)
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
