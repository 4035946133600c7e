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

    package var json: JSON {
        [
            "version": .int(self.version),
            "hash": .string(self.hash),
            "created_at": .double(self.createdAt),
            "size": .int(Int64(self.size)),
            "stored_size": .int(Int64(self.storedSize)),
            "counts": .object(self.counts.mapValues { .int(Int64($0)) }),
            "author": self.author.map(JSON.string) ?? .null,
            "comment": self.comment.map(JSON.string) ?? .null,
            "changes": .int(Int64(self.changes)),
        ]
    }

    init(row: Row) throws {
        self.version = row["version"]
        self.hash = row["hash"]
        self.createdAt = row["created_at"]
        self.size = row["size"]
        self.storedSize = row["stored_size"]
        let countsText: String = row["counts"]
        self.counts = (try JSONParser.parse(countsText).objectValue ?? [:]).compactMapValues { $0.intValue.map(Int.init) }
        self.author = row["author"]
        self.comment = row["comment"]
        self.changes = row["changes"]
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

extension ConfigStore {
    private static let infoColumns = "version, hash, created_at, size, stored_size, counts, author, comment, changes"

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

    /// A stored snapshot and its decompressed canonical payload.
    package func snapshot(version: Int64) async throws -> (info: SnapshotInfo, payload: [UInt8])? {
        let found: (SnapshotInfo, [UInt8])? = try await self.pool.read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT \(Self.infoColumns), payload FROM snapshots WHERE version = ?", arguments: [version])
            else { return nil }
            let blob: Data = row["payload"]
            return (try SnapshotInfo(row: row), [UInt8](blob))
        }
        guard let (info, compressed) = found else { return nil }
        let payload = try Deflate.decompress(compressed, expectedSize: info.size)
        guard Digest.sha256Hex(payload) == info.hash else {
            throw GatewayError.database("snapshot \(version) does not match its hash")
        }
        return (info, payload)
    }

    /// A stored snapshot's compressed payload, as it was stored.
    package func snapshotBlob(version: Int64) async throws -> [UInt8]? {
        try await self.pool.read { db in
            try Data.fetchOne(db, sql: "SELECT payload FROM snapshots WHERE version = ?", arguments: [version]).map { [UInt8]($0) }
        }
    }

    /// Versions committed in `(after, upTo]`: how many, and the newest one's author and comment.
    func versionsSummary(after: Int64, upTo: Int64) async throws -> (count: Int, author: String?, comment: String?) {
        try await self.pool.read { db in
            let count = try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM config_versions WHERE version > ? AND version <= ?",
                arguments: [after, upTo]) ?? 0
            let row = try Row.fetchOne(
                db, sql: "SELECT author, comment FROM config_versions WHERE version = ?", arguments: [upTo])
            return (count, row?["author"], row?["comment"])
        }
    }

    /// Stores a snapshot and keeps only the newest `retention` ones (and the version rows they cover).
    func saveSnapshot(_ info: SnapshotInfo, compressed: [UInt8], retention: Int) async throws {
        let countsText = JSONWriter.string(.object(info.counts.mapValues { .int(Int64($0)) }))
        try await self.pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO snapshots (version, hash, created_at, size, stored_size, counts, author,
                        comment, changes, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [info.version, info.hash, info.createdAt, info.size, info.storedSize, countsText,
                            info.author, info.comment, info.changes, Data(compressed)])
            try db.execute(
                sql: "DELETE FROM snapshots WHERE version NOT IN (SELECT version FROM snapshots ORDER BY version DESC LIMIT ?)",
                arguments: [max(retention, 1)])
            if let oldest = try Int64.fetchOne(db, sql: "SELECT MIN(version) FROM snapshots") {
                try db.execute(sql: "DELETE FROM config_versions WHERE version < ?", arguments: [oldest])
            }
        }
    }
}
