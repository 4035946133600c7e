import Foundation
import GatewayModel
package import Logging
package import NIOCore
import ServiceLifecycle
import Synchronization

/// Materialises committed config versions into immutable, hashed snapshots.
///
/// Wakes on every commit. A commit after a quiet spell is built at once (no added latency); commits that follow
/// a recent build are coalesced: the builder waits until writes pause for ``Configuration/quietPeriod`` (but never
/// longer than ``Configuration/maxDelay``), then builds the newest version only. Each snapshot is pushed to data
/// planes as soon as it is built (as a delta from the one before) and stored right after.
package final class SnapshotBuilder: Service, Sendable {
    package struct Configuration: Sendable {
        /// Snapshots to keep; older ones are deleted with the versions they cover, except the whole snapshot the
        /// oldest kept one is rebuilt from (at most ``SnapshotBuilder/maxDeltaChain`` more).
        package var retention: Int = 500
        package var quietPeriod: Duration = .milliseconds(2)
        package var maxDelay: Duration = .milliseconds(100)

        package init(retention: Int = 500) {
            self.retention = retention
        }
    }

    private let store: ConfigStore
    private let configuration: Configuration
    private let logger: Logger

    /// A materialised snapshot, ready to push: as a delta from the snapshot before it (when there is one) and
    /// whole (compressed on first use, at most once).
    package struct Published: Sendable {
        package var info: SnapshotInfo
        package var delta: Delta?
        package var full: FullPayload

        package struct Delta: Sendable {
            package var baseVersion: Int64
            package var baseHash: String
            /// The ``ConfigDelta`` encoding.
            package var payload: ByteBuffer
        }
    }

    /// A configuration's whole snapshot payload, zlib-compressed when first asked for.
    package final class FullPayload: Sendable {
        private let rows: ConfigRows?
        private let box = Mutex<ByteBuffer?>(nil)

        init(rows: ConfigRows) { self.rows = rows }

        init(compressed: [UInt8]) {
            self.rows = nil
            self.box.withLock { $0 = ByteBuffer(bytes: compressed) }
        }

        package func compressed() throws -> ByteBuffer {
            try self.box.withLock { box in
                if let box { return box }
                // Level 1: on the propagation path, speed matters more than the last few percent of size.
                let bytes = try Deflate.compress(self.rows?.canonicalBytes() ?? [], level: 1)
                let buffer = ByteBuffer(bytes: bytes)
                box = buffer
                return buffer
            }
        }
    }

    /// What the last build produced, the base of the next one.
    private struct Model: Sendable {
        var version: Int64
        /// The last row change included.
        var seq: Int64
        var rows: ConfigRows
        var info: SnapshotInfo
    }

    private let model = Mutex<Model?>(nil)
    /// Builds run one at a time (the run loop, `wait_for_version`, rollbacks).
    private let buildLock = AsyncLock()
    private let latestBox = Mutex<Published?>(nil)
    private let subscribers = Mutex<[UUID: AsyncStream<Published>.Continuation]>([:])
    private let buildCount = Atomic<Int>(0)
    private let lastBuild = Mutex<ContinuousClock.Instant?>(nil)

    /// Build time, size and version of each snapshot; nil in tests that do not look.
    private let metrics: ControlPlaneMetrics?

    package init(store: ConfigStore, configuration: Configuration = .init(), logger: Logger,
                 metrics: ControlPlaneMetrics? = nil)
    {
        self.metrics = metrics
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    /// The newest materialised snapshot.
    package var latest: SnapshotInfo? { self.latestBox.withLock { $0?.info } }

    /// The newest snapshot with its payload.
    package var latestPublished: Published? { self.latestBox.withLock { $0 } }

    /// How many snapshots this builder has built since it started.
    package var builds: Int { self.buildCount.load(ordering: .relaxed) }

    /// The newest snapshot now (if any), then every newer one as it is built. Only the newest is ever
    /// buffered: a subscriber that is slow to consume skips superseded versions.
    package func subscribe() -> AsyncStream<Published> {
        let (stream, continuation) = AsyncStream.makeStream(of: Published.self, bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        let current = self.subscribers.withLock { subs -> Published? in
            subs[id] = continuation
            return self.latestBox.withLock { $0 }
        }
        if let current { continuation.yield(current) }
        continuation.onTermination = { [weak self] _ in self?.subscribers.withLock { _ = $0.removeValue(forKey: id) } }
        return stream
    }

    package func run() async throws {
        _ = try await self.buildIfNeeded()
        for await _ in self.store.commits.cancelOnGracefulShutdown() {
            // Commits arriving faster than builds finish are a burst: coalesce them. Anything slower is built at once.
            let recent = self.lastBuild.withLock { $0.map { ContinuousClock.now - $0 < self.configuration.quietPeriod * 5 } }
            if recent == true { await self.settle() }
            do {
                _ = try await self.buildIfNeeded()
            } catch {
                // The next commit retries; the error is logged, never swallowed silently.
                self.logger.error("snapshot build failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Waits for a pause in writes, bounded by `maxDelay`.
    private func settle() async {
        let clock = ContinuousClock()
        let start = clock.now
        var seen = (try? await self.store.currentVersion()) ?? 0
        while clock.now - start < self.configuration.maxDelay {
            try? await Task.sleep(for: self.configuration.quietPeriod)
            let now = (try? await self.store.currentVersion()) ?? seen
            if now == seen { return }
            seen = now
        }
    }

    /// Builds a snapshot of the newest version unless it already exists. Returns the newest snapshot.
    ///
    /// The first build reads the whole configuration; later ones read only the rows changed since (the store's
    /// row-change log), apply them to the rows kept from the last build, and publish the delta with the snapshot.
    /// Snapshots are stored as deltas too, with a whole one whenever the chain since the last whole one grows long.
    @discardableResult
    package func buildIfNeeded() async throws -> SnapshotInfo {
        try await self.buildLock.withLock { try await self.build() }
    }

    private func build() async throws -> SnapshotInfo {
        let started = ContinuousClock.now
        guard let previous = self.model.withLock({ $0 }) else { return try await self.buildFromScratch() }
        var rows: ConfigRows
        let version: Int64
        let seq: Int64
        let summary: VersionsSummary
        var changedTypes: Set<String>? = nil
        if let changes = try await self.store.changes(since: previous.seq, after: previous.version,
                                                      limit: Self.deltaReadLimit)
        {
            if changes.version == previous.version { return previous.info }
            var upserts: [String: [CanonicalRow]] = [:]
            var deletes: [String: Set<String>] = [:]
            let hasher = RowHasher()
            for (type, changed) in changes.rows {
                for (id, body) in changed {
                    if let body {
                        upserts[type, default: []].append(CanonicalRow(id: id, bytes: Array(body.utf8), hasher: hasher))
                    } else {
                        deletes[type, default: []].insert(id)
                    }
                }
            }
            var merged = previous.rows.rows
            let touched = Set(upserts.keys).union(deletes.keys)
            for type in touched {
                merged[type] = RowMerge.apply(merged[type] ?? [], deletes: deletes[type] ?? [],
                                              upserts: (upserts[type] ?? []).sorted { $0.id < $1.id })
            }
            rows = ConfigRows(rows: merged, trustedIPs: previous.rows.trustedIPs, reusing: previous.rows,
                              changed: touched)
            changedTypes = touched
            version = changes.version
            seq = changes.seq
            summary = changes.summary
        } else {
            // Too many rows changed to read one by one (an import, a rollback): read everything.
            let all = try await self.store.readRows()
            if all.version == previous.version { return previous.info }
            rows = ConfigRows(bodies: all.bodies, trustedIPs: self.store.trustedIPs)
            version = all.version
            seq = all.seq
            summary = try await self.store.versionsSummary(after: previous.version, upTo: version)
        }
        // Only rows whose bytes differ go in the delta (an import that rewrites everything identically is empty).
        let delta = previous.rows.delta(to: rows, only: changedTypes)
        let payload = delta.encode()
        var info = SnapshotInfo(
            version: version, hash: rows.hash, createdAt: Date().timeIntervalSince1970, size: rows.canonicalSize,
            storedSize: 0, counts: rows.counts, author: summary.author, comment: summary.comment,
            changes: max(summary.count, 1))
        let full = FullPayload(rows: rows)
        // Data planes first: storing (an fsync) is not on the propagation path. A crash in between loses nothing:
        // the next start rebuilds the same version, with the same hash.
        // A delta that rewrites a large part of the configuration (an import) goes out as the whole snapshot:
        // compressed, it is far smaller, and a data plane's whole decode reuses its unchanged rows anyway.
        let small = payload.count <= max(Self.minDeltaLimit, info.size / 4)
        self.publish(Published(
            info: info,
            delta: small ? .init(baseVersion: previous.version, baseHash: previous.info.hash,
                                 payload: ByteBuffer(bytes: payload)) : nil,
            full: full))
        self.model.withLock { $0 = Model(version: version, seq: seq, rows: rows, info: info) }
        // Deltas are stored as they are sent (mostly a few rows: compression would gain little).
        var stored = payload
        let chain = try await self.store.deltaChain()
        if let chain, chain.deltas < Self.maxDeltaChain, chain.deltaBytes + stored.count < chain.fullStoredSize {
            info.baseVersion = previous.version
        } else {
            stored = Array(try full.compressed().readableBytesView)
        }
        info.storedSize = stored.count
        do {
            try await self.store.saveSnapshot(info, stored: stored, consumedSeq: seq,
                                              retention: self.configuration.retention)
        } catch {
            // The next build must not store a delta from a snapshot that was never stored: it starts over.
            self.model.withLock { $0 = nil }
            throw error
        }
        self.model.withLock { $0?.info = info }
        self.finished(info, rows: delta.rowCount, started: started)
        return info
    }

    /// The first build: everything read, the snapshot stored whole unless the newest stored one is this version.
    private func buildFromScratch() async throws -> SnapshotInfo {
        let started = ContinuousClock.now
        let all = try await self.store.readRows()
        let rows = ConfigRows(bodies: all.bodies, trustedIPs: self.store.trustedIPs)
        let previous = try await self.store.latestSnapshot()
        if let stored = previous, stored.version == all.version, stored.hash == rows.hash {
            self.model.withLock { $0 = Model(version: all.version, seq: all.seq, rows: rows, info: stored) }
            self.publish(Published(info: stored, delta: nil, full: FullPayload(rows: rows)))
            return stored
        }
        let full = FullPayload(rows: rows)
        let compressed = Array(try full.compressed().readableBytesView)
        let summary = try await self.store.versionsSummary(after: previous?.version ?? 0, upTo: all.version)
        let info = SnapshotInfo(
            version: all.version, hash: rows.hash, createdAt: Date().timeIntervalSince1970, size: rows.canonicalSize,
            storedSize: compressed.count, counts: rows.counts, author: summary.author, comment: summary.comment,
            changes: max(summary.count, 1))
        self.publish(Published(info: info, delta: nil, full: full))
        self.model.withLock { $0 = Model(version: all.version, seq: all.seq, rows: rows, info: info) }
        try await self.store.saveSnapshot(info, stored: compressed, consumedSeq: all.seq,
                                          retention: self.configuration.retention)
        self.finished(info, rows: rows.rows.values.reduce(0) { $0 + $1.count }, started: started)
        return info
    }

    /// A delta up to this size is always sent as a delta.
    static let minDeltaLimit = 256 << 10
    /// Reading changed rows one by one beats reading everything up to about this many.
    static let deltaReadLimit = 2000
    /// Deltas stored after a whole snapshot before the next one is stored whole (bounds a rebuild's work).
    static let maxDeltaChain = 1000

    private func finished(_ info: SnapshotInfo, rows: Int, started: ContinuousClock.Instant) {
        self.lastBuild.withLock { $0 = .now }
        self.buildCount.add(1, ordering: .relaxed)
        self.metrics?.snapshotBuilt(version: info.version, size: info.size, duration: ContinuousClock.now - started)
        self.logger.debug(
            "snapshot built",
            metadata: [
                "gw.config.version": "\(info.version)", "gw.config.hash": "\(info.hash)", "size": "\(info.size)",
                "rows_changed": "\(rows)", "stored_as": "\(info.baseVersion.map { "delta from \($0)" } ?? "full")",
                "duration": "\(ContinuousClock.now - started)",
            ])
    }

    private func publish(_ published: Published) {
        let subscribers = self.subscribers.withLock { subs -> [AsyncStream<Published>.Continuation] in
            // Under the subscribers lock, so a concurrent subscribe() sees either the old value and then this
            // yield, or the new value: never neither.
            let newer = self.latestBox.withLock { current -> Bool in
                guard (current?.info.version ?? -1) <= published.info.version else { return false }
                current = published
                return true
            }
            return newer ? Array(subs.values) : []
        }
        for c in subscribers { c.yield(published) }
    }
}
