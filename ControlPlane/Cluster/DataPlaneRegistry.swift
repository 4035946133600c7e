import Foundation
import Prometheus
package import GatewayModel
import GatewayProto
import Synchronization

/// What the control plane knows about each data plane that ever connected (since it started): identity,
/// what it applied, when it was last heard from, and its last error. Feeds `GET /clustering/data-planes`.
package final class DataPlaneRegistry: Sendable {
    package struct Record: Sendable {
        var id: String
        var hostname: String
        var pid: Int
        var address: String
        var protocolVersion: String
        var softwareVersion: String
        var connectedAt: Double
        var lastSeen: Double
        var connected: Bool
        var appliedVersion: Int64?
        var appliedHash: String?
        var lastSentVersion: Int64?
        var lastError: String?
        var lastErrorVersion: Int64?
        var applyMS: Double?
        /// When the control plane received the ACK of the applied version (seconds since the epoch).
        var appliedAt: Double?
        var connection: UUID
        /// When ``lastSentVersion`` went out.
        var sentAt: ContinuousClock.Instant?
    }

    private let records = Mutex<[String: Record]>([:])
    /// How long silence may last before a connected data plane counts as stale.
    package let staleAfter: Double
    /// Disconnected data planes are forgotten after this long.
    package let purgeAfter: Double

    /// Connected data planes, propagation times and push results; nil in tests that do not look.
    let metrics: ControlPlaneMetrics?

    package init(staleAfter: Duration, purgeAfter: Duration = .seconds(86_400), metrics: ControlPlaneMetrics? = nil) {
        self.metrics = metrics
        self.staleAfter = Double(staleAfter.components.seconds) + Double(staleAfter.components.attoseconds) / 1e18
        self.purgeAfter = Double(purgeAfter.components.seconds)
    }

    static func now() -> Double { Date().timeIntervalSince1970 }

    /// A data plane said hello; returns the connection token later calls use.
    func connected(_ hello: ClusterMessage.Hello, address: String) -> UUID {
        let token = UUID()
        let now = Self.now()
        self.records.withLock { records in
            let previous = records[hello.nodeID]
            records[hello.nodeID] = Record(
                id: hello.nodeID, hostname: hello.hostname, pid: hello.pid, address: address,
                protocolVersion: hello.protocolVersion.description, softwareVersion: hello.softwareVersion,
                connectedAt: now, lastSeen: now, connected: true,
                appliedVersion: hello.configVersion ?? previous?.appliedVersion,
                appliedHash: hello.configHash ?? previous?.appliedHash, lastSentVersion: nil,
                lastError: nil, lastErrorVersion: nil, applyMS: previous?.applyMS, appliedAt: previous?.appliedAt,
                connection: token)
            let cutoff = now - self.purgeAfter
            records = records.filter { $0.value.connected || $0.value.lastSeen >= cutoff }
            self.metrics?.dataPlanesConnected.set(to: Double(records.values.count(where: \.connected)))
        }
        return token
    }

    private func update(_ id: String, _ token: UUID, _ change: (inout Record) -> Void) {
        self.records.withLock { records in
            guard var r = records[id], r.connection == token else { return }
            change(&r)
            records[id] = r
        }
    }

    func disconnected(_ id: String, _ token: UUID) {
        self.update(id, token) { $0.connected = false }
        let connected = self.records.withLock { $0.values.count(where: \.connected) }
        self.metrics?.dataPlanesConnected.set(to: Double(connected))
    }

    func heard(_ id: String, _ token: UUID) { self.update(id, token) { $0.lastSeen = Self.now() } }

    func sent(_ id: String, _ token: UUID, version: Int64) {
        self.update(id, token) {
            $0.lastSentVersion = version
            $0.sentAt = .now
        }
    }

    func applied(_ id: String, _ token: UUID, _ ack: ClusterMessage.Ack) {
        self.update(id, token) { r in
            if let metrics = self.metrics, let sentAt = r.sentAt, r.lastSentVersion == ack.version {
                metrics.propagation.record(ContinuousClock.now - sentAt)
                metrics.pushesAcked.increment()
                r.sentAt = nil
            }
            r.lastSeen = Self.now()
            r.appliedVersion = ack.version
            r.appliedHash = ack.hash
            r.applyMS = ack.applyMS
            r.appliedAt = Self.now()
            if let v = r.lastErrorVersion, v <= ack.version {
                r.lastError = nil
                r.lastErrorVersion = nil
            }
        }
    }

    func failed(_ id: String, _ token: UUID, version: Int64?, reason: String) {
        self.update(id, token) { r in
            if let version, r.sentAt != nil, r.lastSentVersion == version {
                self.metrics?.pushesRejected.increment()
                r.sentAt = nil
            }
            r.lastSeen = Self.now()
            r.lastError = reason
            r.lastErrorVersion = version
        }
    }

    func reported(_ id: String, _ token: UUID, _ heartbeat: ClusterMessage.Heartbeat) {
        self.update(id, token) { r in
            r.lastSeen = Self.now()
            if let v = heartbeat.version, let h = heartbeat.hash {
                r.appliedVersion = v
                r.appliedHash = h
            }
        }
    }

    /// `normal` (connected, recently heard, on the newest hash), `syncing` (a newer snapshot is on its way),
    /// `failed` (it rejected the newest snapshot), `stale` (connected but silent), `offline` (disconnected).
    static func syncStatus(_ r: Record, newestHash: String?, now: Double, staleAfter: Double) -> String {
        if !r.connected { return "offline" }
        if now - r.lastSeen > staleAfter { return "stale" }
        if let newestHash, r.appliedHash == newestHash { return "normal" }
        if r.lastError != nil { return "failed" }
        return "syncing"
    }

    package func snapshot(newest: SnapshotInfo?) -> [JSON] {
        let now = Self.now()
        return self.records.withLock { Array($0.values) }.sorted { $0.id < $1.id }.map { r in
            func opt<T>(_ v: T?, _ f: (T) -> JSON) -> JSON { v.map(f) ?? .null }
            return [
                "id": .string(r.id), "hostname": .string(r.hostname), "pid": .int(Int64(r.pid)),
                "ip": .string(r.address), "protocol_version": .string(r.protocolVersion),
                "version": .string(r.softwareVersion), "connected": .bool(r.connected),
                "connected_at": .double(r.connectedAt), "last_seen": .double(r.lastSeen),
                "config_version": opt(r.appliedVersion) { .int($0) }, "config_hash": opt(r.appliedHash, JSON.string),
                "last_sent_version": opt(r.lastSentVersion) { .int($0) }, "last_error": opt(r.lastError, JSON.string),
                "apply_ms": opt(r.applyMS) { .double($0) }, "applied_at": opt(r.appliedAt) { .double($0) },
                "sync_status": .string(Self.syncStatus(r, newestHash: newest?.hash, now: now, staleAfter: self.staleAfter)),
            ]
        }
    }

    /// Whether at least one data plane is connected and every connected one serves `version` or newer.
    package func converged(on version: Int64) -> Bool {
        self.records.withLock { records in
            let connected = records.values.filter(\.connected)
            return !connected.isEmpty && connected.allSatisfy { ($0.appliedVersion ?? -1) >= version }
        }
    }

    /// Waits (bounded) until ``converged(on:)``; returns whether it happened. Checks every millisecond, in
    /// process: cheaper than any client polling over HTTP.
    package func waitUntilConverged(on version: Int64, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !self.converged(on: version) {
            guard ContinuousClock.now < deadline else { return false }
            do {
                try await Task.sleep(for: .milliseconds(1))
            } catch {
                return false
            }
        }
        return true
    }

    /// Convergence summary for `GET /clustering/status`.
    package func summary(newest: SnapshotInfo?) -> JSON {
        let rows = self.snapshot(newest: newest)
        func count(_ status: String) -> Int64 { Int64(rows.filter { $0["sync_status"]?.stringValue == status }.count) }
        let connected = Int64(rows.filter { $0["connected"] == true }.count)
        let normal = count("normal")
        return [
            "newest": newest.map { ["version": .int($0.version), "hash": .string($0.hash)] } ?? .null,
            "data_planes": [
                "known": .int(Int64(rows.count)), "connected": .int(connected), "normal": .int(normal),
                "syncing": .int(count("syncing")), "failed": .int(count("failed")), "stale": .int(count("stale")),
                "offline": .int(count("offline")),
            ],
            "converged": .bool(connected > 0 && normal == connected),
        ]
    }
}
