import Foundation
package import GRDB
package import GatewayModel

/// Who made a change and why; recorded with every config version.
package struct ChangeInfo: Sendable {
    package var author: String?
    package var comment: String?

    package init(author: String? = nil, comment: String? = nil) {
        self.author = author
        self.comment = comment
    }
}

/// A request for one page of a collection (Kong's `size`/`offset`/`tags`).
package struct PageRequest: Sendable {
    package enum Tags: Sendable {
        case all([String])
        case any([String])
    }

    package var size: Int = 100
    /// The id after which the page starts (decoded from Kong's opaque `offset`).
    package var after: String?
    package var tags: Tags?

    package init(size: Int = 100, after: String? = nil, tags: Tags? = nil) {
        self.size = size
        self.after = after
        self.tags = tags
    }
}

/// One page of entities plus the id to continue after, if there is more.
package struct Page: Sendable {
    package var rows: [JSONObject]
    package var nextAfter: String?
}

/// Restricts an operation to the children of one parent (`/services/{s}/routes`).
package struct Scope: Sendable {
    package var field: String
    package var parentID: String

    package init(field: String, parentID: String) {
        self.field = field
        self.parentID = parentID
    }
}

/// The control plane's SQLite store: entities, the version history and materialised snapshots.
///
/// All access goes through GRDB's `DatabasePool` (WAL): one writer, concurrent readers that never block it, and
/// every blocking call on GRDB's own queues, never on an event loop. Each committed write bumps the config
/// version in the same transaction, with `synchronous=FULL`, so an acknowledged write survives a crash.
package final class ConfigStore: Sendable {
    package let pool: DatabasePool
    package let trustedIPs: [String]
    private let commitContinuation: AsyncStream<Void>.Continuation
    /// Yields after commits; bursts collapse into one pending element (the snapshot builder's wake-up).
    package let commits: AsyncStream<Void>

    /// Opens (creating if needed) the database at `path` and runs pending migrations.
    package init(path: String, trustedIPs: [String] = []) throws {
        // Not NSString.deletingLastPathComponent: swift-corelibs-foundation traps on one-character paths ("a").
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
        if !dir.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw GatewayError(status: 500, message: "cannot create the directory '\(dir)' of the database '\(path)': "
                    + Self.describe(error))
            }
        }
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            self.pool = try DatabasePool(path: path, configuration: config)
            try Migrations.migrator().migrate(self.pool)
        } catch {
            throw GatewayError(status: 500, message: "cannot open the database '\(path)': \(error)")
        }
        self.trustedIPs = trustedIPs
        (self.commits, self.commitContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    deinit { self.commitContinuation.finish() }

    /// A file system error as one readable line (Foundation's NSError dump names neither the cause nor the fix).
    private static func describe(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? any Error {
            let posix = underlying as NSError
            if posix.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(posix.code))) }
        }
        return ns.localizedDescription
    }

    func notifyCommit() { self.commitContinuation.yield() }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

    // MARK: Reads

    /// Finds an entity by id, or by its endpoint key when `key` is not a UUID.
    func find(_ db: Database, _ table: EntityTable, key: String, scope: Scope? = nil) throws -> JSONObject? {
        var sql: String
        var args: [(any DatabaseValueConvertible)?]
        if UUIDString.isValid(key) {
            sql = "SELECT body FROM \(table.name) WHERE id = ?"
            args = [key.lowercased()]
        } else if let endpoint = table.schema.endpointKey {
            sql = "SELECT body FROM \(table.name) WHERE uk_\(endpoint) = ?"
            args = [key]
        } else {
            return nil
        }
        if let scope, let column = table.foreignColumn(scope.field) {
            sql += " AND \(column) = ?"
            args.append(scope.parentID)
        }
        guard let body = try String.fetchOne(db, sql: sql, arguments: StatementArguments(args)) else { return nil }
        return try EntityTable.decode(body)
    }

    package func get(_ schema: EntitySchema, key: String, scope: Scope? = nil) async throws -> JSONObject? {
        let table = EntityTable.of(schema)
        return try await self.pool.read { db in try self.find(db, table, key: key, scope: scope) }
    }

    package func list(_ schema: EntitySchema, page: PageRequest, scope: Scope? = nil) async throws -> Page {
        let table = EntityTable.of(schema)
        var clauses: [String] = []
        var args: [(any DatabaseValueConvertible)?] = []
        if let scope, let column = table.foreignColumn(scope.field) {
            clauses.append("\(column) = ?")
            args.append(scope.parentID)
        }
        switch page.tags {
        case .all(let tags)?:
            for t in tags {
                clauses.append("EXISTS (SELECT 1 FROM json_each(\(table.name).tags) WHERE value = ?)")
                args.append(t)
            }
        case .any(let tags)?:
            let marks = Array(repeating: "?", count: tags.count).joined(separator: ", ")
            clauses.append("EXISTS (SELECT 1 FROM json_each(\(table.name).tags) WHERE value IN (\(marks)))")
            args.append(contentsOf: tags.map { $0 as (any DatabaseValueConvertible)? })
        case nil:
            break
        }
        if let after = page.after {
            clauses.append("id > ?")
            args.append(after)
        }
        let whereSQL = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        let sql = "SELECT id, body FROM \(table.name) \(whereSQL) ORDER BY id LIMIT ?"
        args.append(page.size + 1)
        let arguments = StatementArguments(args)
        let rows = try await self.pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row -> (String, String) in
                (row["id"], row["body"])
            }
        }
        let more = rows.count > page.size
        let pageRows = rows.prefix(page.size)
        return Page(rows: try pageRows.map { try EntityTable.decode($0.1) },
                    nextAfter: more ? pageRows.last?.0 : nil)
    }

    /// Every tag in use, as Kong's `/tags` lists them: (entity type, entity id, tag).
    package func tags(filter: String? = nil) async throws -> [(String, String, String)] {
        try await self.pool.read { db in
            var out: [(String, String, String)] = []
            for schema in EntityRegistry.all {
                // Only text members are tags; anything else in the column (a null member) is skipped, never decoded
                // as a string (GRDB traps on a NULL read as a non-optional String).
                var sql = "SELECT \(schema.name).id AS id, t.value AS tag FROM \(schema.name), "
                    + "json_each(\(schema.name).tags) t WHERE t.type = 'text'"
                var args: [(any DatabaseValueConvertible)?] = []
                if let filter {
                    sql += " AND t.value = ?"
                    args.append(filter)
                }
                for row in try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)) {
                    guard let id: String = row["id"], let tag: String = row["tag"] else { continue }
                    out.append((schema.name, id, tag))
                }
            }
            return out.sorted { ($0.2, $0.0, $0.1) < ($1.2, $1.0, $1.1) }
        }
    }

    /// The newest committed version.
    package func currentVersion() async throws -> Int64 {
        try await self.pool.read { db in try Self.currentVersion(db) }
    }

    static func currentVersion(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT MAX(version) FROM config_versions") ?? 0
    }

    /// A consistent read of everything at one version: (version, canonical bodies by entity type in id order).
    package func readAll() async throws -> (version: Int64, bodies: [String: [String]]) {
        try await self.pool.read { db in
            let version = try Self.currentVersion(db)
            var bodies: [String: [String]] = [:]
            for schema in EntityRegistry.all {
                bodies[schema.name] = try String.fetchAll(db, sql: "SELECT body FROM \(schema.name) ORDER BY id")
            }
            return (version, bodies)
        }
    }

    /// The current configuration's hash (what its snapshot's hash is or will be), without parsing it.
    package func currentHash() async throws -> (version: Int64, hash: String) {
        let (version, bodies) = try await self.readAll()
        return (version, ConfigHash.of(bodies: bodies, trustedIPs: self.trustedIPs))
    }

    /// A consistent read of everything at one version with ids, and the last row change it includes.
    package func readRows() async throws -> (version: Int64, seq: Int64, bodies: [String: [(id: String, body: String)]]) {
        try await self.pool.read { db in
            let version = try Self.currentVersion(db)
            let seq = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM row_changes") ?? 0
            var bodies: [String: [(id: String, body: String)]] = [:]
            for schema in EntityRegistry.all {
                bodies[schema.name] = try Row.fetchAll(db, sql: "SELECT id, body FROM \(schema.name) ORDER BY id")
                    .map { ($0["id"], $0["body"]) }
            }
            return (version, seq, bodies)
        }
    }

    /// What changed after row change `seq`, read consistently at one version: per type, each changed id with its
    /// body now (nil: deleted), and the versions committed after `version`. Nil when more than `limit` rows changed
    /// (read everything instead). One read transaction: this is on the propagation path.
    package func changes(since seq: Int64, after version: Int64, limit: Int) async throws
        -> (version: Int64, seq: Int64, rows: [String: [String: String?]], summary: VersionsSummary)?
    {
        try await self.pool.read { db in
            let current = try Self.currentVersion(db)
            let newest = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM row_changes") ?? seq
            let changed = try Row.fetchAll(
                db, sql: "SELECT DISTINCT entity, id FROM row_changes WHERE seq > ? LIMIT ?", arguments: [seq, limit + 1])
            guard changed.count <= limit else { return nil }
            var rows: [String: [String: String?]] = [:]
            for row in changed {
                let entity: String = row["entity"]
                let id: String = row["id"]
                guard EntityRegistry.schema(entity) != nil else { continue }
                let body = try String.fetchOne(db, sql: "SELECT body FROM \(entity) WHERE id = ?", arguments: [id])
                rows[entity, default: [:]][id] = .some(body)
            }
            let summary = try Self.versionsSummary(db, after: version, upTo: current)
            return (current, max(newest, seq), rows, summary)
        }
    }

    /// Stored entities by type and id, as canonical JSON text (parsed on demand by the caller).
    package func bodiesByID() async throws -> [String: [String: String]] {
        try await self.pool.read { db in
            var out: [String: [String: String]] = [:]
            for schema in EntityRegistry.all {
                var rows: [String: String] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT id, body FROM \(schema.name)") { rows[row["id"]] = row["body"] }
                out[schema.name] = rows
            }
            return out
        }
    }

    /// The current configuration, parsed (for exports and declarative comparisons).
    package func currentContent() async throws -> (version: Int64, content: ConfigContent) {
        let (version, bodies) = try await self.readAll()
        var entities: [String: [JSONObject]] = [:]
        for (type, rows) in bodies { entities[type] = try rows.map(EntityTable.decode) }
        return (version, ConfigContent(entities: entities, trustedIPs: self.trustedIPs))
    }
}
