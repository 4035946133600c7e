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
/// planes as soon as it is built and stored right after. The payload is assembled from the stored canonical bodies without re-encoding, hashed with SHA-256 and
/// stored compressed.
package final class SnapshotBuilder: Service, Sendable {
    package struct Configuration: Sendable {
        /// Snapshots to keep; older ones are deleted with the versions they cover.
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
    /// A materialised snapshot with its stored (zlib-compressed canonical) payload, ready to push.
    package struct Published: Sendable {
        package var info: SnapshotInfo
        package var compressed: ByteBuffer
    }

    private let latestBox = Mutex<Published?>(nil)
    private let subscribers = Mutex<[UUID: AsyncStream<Published>.Continuation]>([:])
    private let buildCount = Atomic<Int>(0)
    private let lastBuild = Mutex<ContinuousClock.Instant?>(nil)

    package init(store: ConfigStore, configuration: Configuration = .init(), logger: Logger) {
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
    @discardableResult
    package func buildIfNeeded() async throws -> SnapshotInfo {
        let previous = try await self.store.latestSnapshot()
        let (version, bodies) = try await self.store.readAll()
        if let previous, previous.version == version {
            if self.latest?.version != previous.version {
                guard let blob = try await self.store.snapshotBlob(version: previous.version) else {
                    throw GatewayError.database("snapshot \(previous.version) vanished while loading it")
                }
                self.publish(Published(info: previous, compressed: ByteBuffer(bytes: blob)))
            }
            return previous
        }
        let started = ContinuousClock.now
        let payload = ConfigContent.canonicalBytes(bodies: bodies, trustedIPs: self.store.trustedIPs)
        let hash = Digest.sha256Hex(payload)
        // Level 1: on the propagation path, speed matters more than the last few percent of size.
        let compressed = try Deflate.compress(payload, level: 1)
        let summary = try await self.store.versionsSummary(after: previous?.version ?? 0, upTo: version)
        let info = SnapshotInfo(
            version: version, hash: hash, createdAt: Date().timeIntervalSince1970, size: payload.count,
            storedSize: compressed.count, counts: bodies.mapValues(\.count), author: summary.author,
            comment: summary.comment, changes: max(summary.count, 1))
        // Data planes first: storing (an fsync) is not on the propagation path. A crash in between loses nothing,
        // the next start rebuilds the same version, byte for byte.
        self.publish(Published(info: info, compressed: ByteBuffer(bytes: compressed)))
        try await self.store.saveSnapshot(info, compressed: compressed, retention: self.configuration.retention)
        self.lastBuild.withLock { $0 = .now }
        self.buildCount.add(1, ordering: .relaxed)
        self.logger.debug(
            "snapshot built",
            metadata: [
                "gw.config.version": "\(version)", "gw.config.hash": "\(hash)", "size": "\(payload.count)",
                "duration": "\(ContinuousClock.now - started)",
            ])
        return info
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
