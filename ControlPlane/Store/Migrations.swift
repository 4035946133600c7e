import GRDB

/// The store's schema, one migration per change. A migration, once released, is never edited: later changes
/// add a new one.
enum Migrations {
    static func migrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: entities, versions, snapshots") { db in
            // Every entity table keeps the full entity as canonical JSON in `body`; the other columns exist for
            // lookups, uniqueness and foreign keys, which SQLite enforces as a second line of defence.
            try db.execute(sql: """
                CREATE TABLE ca_certificates (
                    id TEXT PRIMARY KEY NOT NULL,
                    uk_cert_digest TEXT NOT NULL UNIQUE,
                    tags TEXT NOT NULL DEFAULT '[]',
                    body TEXT NOT NULL
                );
                CREATE TABLE services (
                    id TEXT PRIMARY KEY NOT NULL,
                    uk_name TEXT UNIQUE,
                    tags TEXT NOT NULL DEFAULT '[]',
                    body TEXT NOT NULL
                );
                CREATE TABLE routes (
                    id TEXT PRIMARY KEY NOT NULL,
                    uk_name TEXT UNIQUE,
                    fk_service TEXT REFERENCES services(id) ON DELETE RESTRICT,
                    tags TEXT NOT NULL DEFAULT '[]',
                    body TEXT NOT NULL
                );
                CREATE INDEX routes_service ON routes(fk_service);
                CREATE TABLE consumers (
                    id TEXT PRIMARY KEY NOT NULL,
                    uk_username TEXT UNIQUE,
                    uk_custom_id TEXT UNIQUE,
                    tags TEXT NOT NULL DEFAULT '[]',
                    body TEXT NOT NULL
                );
                CREATE TABLE plugins (
                    id TEXT PRIMARY KEY NOT NULL,
                    uk_instance_name TEXT UNIQUE,
                    fk_route TEXT REFERENCES routes(id) ON DELETE CASCADE,
                    fk_service TEXT REFERENCES services(id) ON DELETE CASCADE,
                    fk_consumer TEXT REFERENCES consumers(id) ON DELETE CASCADE,
                    cache_key TEXT NOT NULL UNIQUE,
                    tags TEXT NOT NULL DEFAULT '[]',
                    body TEXT NOT NULL
                );
                CREATE INDEX plugins_route ON plugins(fk_route);
                CREATE INDEX plugins_service ON plugins(fk_service);
                CREATE INDEX plugins_consumer ON plugins(fk_consumer);
                CREATE TABLE header_cert_auth_credentials (
                    id TEXT PRIMARY KEY NOT NULL,
                    fk_consumer TEXT NOT NULL REFERENCES consumers(id) ON DELETE CASCADE,
                    fk_ca_certificate TEXT REFERENCES ca_certificates(id) ON DELETE CASCADE,
                    cache_key TEXT NOT NULL UNIQUE,
                    tags TEXT NOT NULL DEFAULT '[]',
                    body TEXT NOT NULL
                );
                CREATE INDEX credentials_consumer ON header_cert_auth_credentials(fk_consumer);
                CREATE INDEX credentials_ca ON header_cert_auth_credentials(fk_ca_certificate);

                -- One row per committed change: the config version history.
                CREATE TABLE config_versions (
                    version INTEGER PRIMARY KEY NOT NULL,
                    created_at REAL NOT NULL,
                    author TEXT,
                    comment TEXT
                );
                INSERT INTO config_versions (version, created_at, comment) VALUES (0, 0, 'empty configuration');

                -- Materialised configurations: canonical payload, zlib-compressed.
                CREATE TABLE snapshots (
                    version INTEGER PRIMARY KEY NOT NULL,
                    hash TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    size INTEGER NOT NULL,
                    stored_size INTEGER NOT NULL,
                    counts TEXT NOT NULL,
                    author TEXT,
                    comment TEXT,
                    changes INTEGER NOT NULL,
                    payload BLOB NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2: row changes, delta snapshots") { db in
            // Every insert, update and delete of an entity row (cascades included: SQLite runs triggers for
            // foreign-key actions) leaves (entity, id) here, so the snapshot builder reads what changed since its
            // last build instead of the whole configuration. The builder deletes what it has consumed.
            try db.execute(sql: """
                CREATE TABLE row_changes (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    entity TEXT NOT NULL,
                    id TEXT NOT NULL
                );
                ALTER TABLE snapshots ADD COLUMN base_version INTEGER;
                """)
            for table in ["ca_certificates", "services", "routes", "consumers", "plugins", "header_cert_auth_credentials"] {
                try db.execute(sql: """
                    CREATE TRIGGER \(table)_inserted AFTER INSERT ON \(table)
                        BEGIN INSERT INTO row_changes (entity, id) VALUES ('\(table)', NEW.id); END;
                    CREATE TRIGGER \(table)_updated AFTER UPDATE ON \(table)
                        BEGIN INSERT INTO row_changes (entity, id) VALUES ('\(table)', NEW.id); END;
                    CREATE TRIGGER \(table)_deleted AFTER DELETE ON \(table)
                        BEGIN INSERT INTO row_changes (entity, id) VALUES ('\(table)', OLD.id); END;
                    """)
            }
        }
        return migrator
    }
}
