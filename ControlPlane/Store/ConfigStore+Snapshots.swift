import Foundation
import GRDB
package import GatewayModel

/// A materialised configuration: the listing fields of `GET /snapshots`.
package struct SnapshotInfo: Sendable, Equatable {
    package var version: Int64
    package var hash: String
    /// Seconds since the epoch.
    package var createdAt: Double
    /// Bytes of the canonical payload.
    package var size: Int
    /// Bytes stored after compression.
    package var storedSize: Int
    package var counts: [String: Int]
    package var author: String?
    package var comment: String?
    /// How many committed versions this snapshot covers (bursts are coalesced).
    package var changes: Int
    /// Stored as the changes from this earlier snapshot (nil: stored whole).
    package var baseVersion: Int64? = nil

    package var json: JSON {
        [
            "version": .int(self.version),
            "hash": .string(self.hash),
            "created_at": .double(self.createdAt),
            "size": .int(Int64(self.size)),
            "stored_size": .int(Int64(self.storedSize)),
            "counts": .object(JSONObject(self.counts) { .int(Int64($0)) }),
            "author": self.author.map(JSON.string) ?? .null,
            "comment": self.comment.map(JSON.string) ?? .null,
            "changes": .int(Int64(self.changes)),
            "stored_as": self.baseVersion.map { .string("delta from \($0)") } ?? "full",
        ]
    }

    init(row: Row) throws {
        self.version = row["version"]
        self.hash = row["hash"]
        self.createdAt = row["created_at"]
        self.size = row["size"]
        self.storedSize = row["stored_size"]
        let countsText: String = row["counts"]
        self.counts = (try JSONParser.parse(countsText).objectValue ?? [:]).compactMapDictionary { $0.intValue.map(Int.init) }
        self.author = row["author"]
        self.comment = row["comment"]
        self.changes = row["changes"]
        self.baseVersion = row["base_version"]
    }

    package init(version: Int64, hash: String, createdAt: Double, size: Int, storedSize: Int, counts: [String: Int],
                 author: String?, comment: String?, changes: Int)
    {
        self.version = version
        self.hash = hash
        self.createdAt = createdAt
        self.size = size
        self.storedSize = storedSize
        self.counts = counts
        self.author = author
        self.comment = comment
        self.changes = changes
    }
}

/// Versions committed in a range: how many, and the newest one's author and comment.
package struct VersionsSummary: Sendable {
    var count: Int
    var author: String?
    var comment: String?
}

extension ConfigStore {
    private static let infoColumns = "version, hash, created_at, size, stored_size, counts, author, comment, changes, base_version"

    package func latestSnapshot() async throws -> SnapshotInfo? {
        try await self.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.infoColumns) FROM snapshots ORDER BY version DESC LIMIT 1")
                .map(SnapshotInfo.init(row:))
        }
    }

    /// Snapshots newest first, starting below `before` when given.
    package func snapshots(limit: Int, before: Int64? = nil) async throws -> [SnapshotInfo] {
        try await self.pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT \(Self.infoColumns) FROM snapshots WHERE version < ? ORDER BY version DESC LIMIT ?",
                arguments: [before ?? Int64.max, limit])
            return try rows.map(SnapshotInfo.init(row:))
        }
    }

    /// A stored snapshot and its canonical payload: stored whole, or rebuilt from the nearest whole one before it
    /// and the deltas that follow; either way checked against its hash.
    package func snapshot(version: Int64) async throws -> (info: SnapshotInfo, payload: [UInt8])? {
        let chain: [(SnapshotInfo, [UInt8])]? = try await self.pool.read { db in
            var out: [(SnapshotInfo, [UInt8])] = []
            var next: Int64? = version
            while let v = next {
                guard let row = try Row.fetchOne(
                    db, sql: "SELECT \(Self.infoColumns), payload FROM snapshots WHERE version = ?", arguments: [v])
                else { return out.isEmpty ? nil : out }
                let info = try SnapshotInfo(row: row)
                let blob: Data = row["payload"]
                out.append((info, [UInt8](blob)))
                next = info.baseVersion
            }
            return out
        }
        guard let chain, let (info, _) = chain.first else { return nil }
        guard let (base, baseBlob) = chain.last, base.baseVersion == nil else {
            throw GatewayError.database("snapshot \(version) depends on a snapshot that is no longer stored")
        }
        let basePayload = try Deflate.decompress(baseBlob, expectedSize: base.size)
        if chain.count == 1 {
            guard try ConfigHash.of(payload: basePayload) == info.hash else {
                throw GatewayError.database("snapshot \(version) does not match its hash")
            }
            return (info, basePayload)
        }
        // The chain's deltas folded into one (last write wins per id), applied once, checked against the newest
        // hash: a rebuild costs one pass over the configuration, however long the chain.
        let start = try IncrementalDecoder.decode(basePayload, previous: nil)
        var final: [String: [String: StoredRow?]] = [:]
        for (_, blob) in chain.dropLast().reversed() {
            let delta = try DecodedDelta.decode(blob)
            for (type, ids) in delta.deletes { for id in ids { final[type, default: [:]][id] = .some(nil) } }
            for (type, rows) in delta.upserts { for row in rows { final[type, default: [:]][row.row.id] = .some(row) } }
        }
        var folded = DecodedDelta()
        for (type, changes) in final {
            let present = start.rows[type] ?? []
            let deletes = changes.filter { $0.value == nil && RowMerge.contains(present, id: $0.key) }.map(\.key)
            let upserts = changes.compactMap { $0.value }
            if !deletes.isEmpty { folded.deletes[type] = deletes.sorted() }
            if !upserts.isEmpty { folded.upserts[type] = upserts.sorted { $0.row.id < $1.row.id } }
        }
        let decoded = try start.applying(folded)
        guard decoded.hash == info.hash else {
            throw GatewayError.database("snapshot \(version) does not match its hash once rebuilt")
        }
        return (info, decoded.canonicalBytes())
    }

    /// Stores a snapshot (whole and compressed, or as the uncompressed delta from `info.baseVersion`), forgets the row changes it consumed, and
    /// keeps the newest `retention` snapshots plus the older ones they are rebuilt from.
    func saveSnapshot(_ info: SnapshotInfo, stored: [UInt8], consumedSeq: Int64, retention: Int) async throws {
        let countsText = JSONWriter.string(.object(JSONObject(info.counts) { .int(Int64($0)) }))
        try await self.pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO snapshots (version, hash, created_at, size, stored_size, counts, author,
                        comment, changes, base_version, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [info.version, info.hash, info.createdAt, info.size, info.storedSize, countsText,
                            info.author, info.comment, info.changes, info.baseVersion, Data(stored)])
            try db.execute(sql: "DELETE FROM row_changes WHERE seq <= ?", arguments: [consumedSeq])
            // The oldest snapshot to keep, then the whole snapshot its chain starts from.
            if let cutoff = try Int64.fetchOne(
                db, sql: "SELECT version FROM snapshots ORDER BY version DESC LIMIT 1 OFFSET ?",
                arguments: [max(retention, 1) - 1]),
                let base = try Int64.fetchOne(
                    db, sql: "SELECT MAX(version) FROM snapshots WHERE version <= ? AND base_version IS NULL",
                    arguments: [cutoff])
            {
                try db.execute(sql: "DELETE FROM snapshots WHERE version < ?", arguments: [base])
            }
            if let oldest = try Int64.fetchOne(db, sql: "SELECT MIN(version) FROM snapshots") {
                try db.execute(sql: "DELETE FROM config_versions WHERE version < ?", arguments: [oldest])
            }
        }
    }

    /// The chain a new delta snapshot would extend: deltas since the newest whole snapshot and their stored bytes,
    /// and that whole snapshot's stored size.
    func deltaChain() async throws -> (deltas: Int, deltaBytes: Int, fullStoredSize: Int)? {
        try await self.pool.read { db in
            guard let full = try Row.fetchOne(
                db, sql: "SELECT version, stored_size FROM snapshots WHERE base_version IS NULL ORDER BY version DESC LIMIT 1")
            else { return nil }
            let fullVersion: Int64 = full["version"]
            let row = try Row.fetchOne(
                db, sql: "SELECT COUNT(*) AS n, COALESCE(SUM(stored_size), 0) AS bytes FROM snapshots WHERE version > ?",
                arguments: [fullVersion])
            return (row?["n"] ?? 0, row?["bytes"] ?? 0, full["stored_size"])
        }
    }

    /// Versions committed in `(after, upTo]`: how many, and the newest one's author and comment.
    func versionsSummary(after: Int64, upTo: Int64) async throws -> VersionsSummary {
        try await self.pool.read { db in try Self.versionsSummary(db, after: after, upTo: upTo) }
    }

    static func versionsSummary(_ db: Database, after: Int64, upTo: Int64) throws -> VersionsSummary {
        let count = try Int.fetchOne(
            db, sql: "SELECT COUNT(*) FROM config_versions WHERE version > ? AND version <= ?",
            arguments: [after, upTo]) ?? 0
        let row = try Row.fetchOne(
            db, sql: "SELECT author, comment FROM config_versions WHERE version = ?", arguments: [upTo])
        return VersionsSummary(count: count, author: row?["author"], comment: row?["comment"])
    }
}
