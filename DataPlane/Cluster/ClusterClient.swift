import Foundation
import GatewayModel
import GatewayProto
package import Logging
import NIOCore
import NIOPosix
package import ServiceLifecycle

/// The data plane's side of the cluster protocol: connects to the control plane's socket (reconnecting with
/// jittered backoff, at most ``DataPlaneConfiguration/maxBackoff`` apart), applies every snapshot it receives
/// (off the event loops), answers with ACK or NACK, and writes what it applied to the cache.
package final class ClusterClient: Service, Sendable {
    private let configuration: DataPlaneConfiguration
    private let state: ConfigState
    private let cache: SnapshotCache
    private let nodeID: String
    private let logger: Logger

    package static let softwareVersion = "0.1.0"

    package init(configuration: DataPlaneConfiguration, state: ConfigState, cache: SnapshotCache, nodeID: String,
                 logger: Logger)
    {
        self.configuration = configuration
        self.state = state
        self.cache = cache
        self.nodeID = nodeID
        self.logger = logger
    }

    typealias Connection = NIOAsyncChannel<ClusterMessage, ClusterMessage>

    package func run() async throws {
        // Cache writes (fsyncs) run in order on their own task: the next snapshot or delta is read and applied
        // while the previous one is still being written. Pending writes finish before run() returns.
        let (writes, writer) = AsyncStream.makeStream(of: CacheWrite.self)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await write in writes { await self.persist(write) }
            }
            let reclaim = Task { await self.reclaimLoop() }
            await self.connectLoop(writer)
            reclaim.cancel()
            writer.finish()
        }
    }

    /// Once a second, frees the configurations swapped out that the event loops have let go of, on NIO's thread
    /// pool (``ConfigState/releaseRetired()``).
    private func reclaimLoop() async {
        let state = self.state
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            _ = try? await NIOThreadPool.singleton.runIfActive { state.releaseRetired() }
        }
    }

    private func connectLoop(_ writer: AsyncStream<CacheWrite>.Continuation) async {
        var backoff: Duration = .milliseconds(50)
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            let connected = await self.session(writer)
            if Task.isCancelled || Task.isShuttingDownGracefully { break }
            if connected { backoff = .milliseconds(50) }
            // Full jitter, capped: data planes that lost the same control plane do not return in lockstep.
            let cap = min(backoff, self.configuration.maxBackoff)
            let jittered = Duration.nanoseconds(Int64.random(in: 0...max(1, Int64(cap.components.seconds) * 1_000_000_000
                + cap.components.attoseconds / 1_000_000_000)))
            try? await Task.sleep(for: max(jittered, .milliseconds(10)))
            backoff = min(backoff * 2, self.configuration.maxBackoff)
        }
    }

    /// One connection, from connect to close. Returns whether a conversation took place (for the backoff).
    private func session(_ writer: AsyncStream<CacheWrite>.Continuation) async -> Bool {
        let maxFrame = self.configuration.maxFrame
        let connection: Connection
        do {
            connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(2))
                .connect(unixDomainSocketPath: self.configuration.clusterSocket) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try ClusterChannel.configure(channel, maxFrame: maxFrame)
                    }
                }
        } catch {
            self.state.updateLink { $0.connected = false }
            self.logger.debug("control plane unreachable", metadata: ["error": "\(error)"])
            return false
        }
        var talked = false
        do {
            try await connection.executeThenClose { inbound, outbound in
                let current = self.state.config
                try await outbound.write(.hello(.init(
                    nodeID: self.nodeID, hostname: ProcessInfo.processInfo.hostName, pid: Int(getpid()),
                    softwareVersion: Self.softwareVersion, configVersion: current?.version, configHash: current?.hash,
                    maxFrame: maxFrame)))
                let lastHeard = LastHeard()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    defer { group.cancelAll() }
                    for try await message in inbound.cancelOnGracefulShutdown() {
                        lastHeard.touch()
                        self.state.updateLink { $0.lastContact = Date().timeIntervalSince1970 }
                        switch message {
                        case .welcome(let welcome):
                            guard welcome.protocolVersion.major == ProtocolVersion.current.major else {
                                let text = "control plane speaks protocol \(welcome.protocolVersion), this data plane "
                                    + "speaks \(ProtocolVersion.current)"
                                try? await outbound.write(.error(.init(
                                    code: ClusterMessage.ProtocolError.versionMismatch, message: text)))
                                self.state.recordError(text)
                                self.logger.error("control plane refused: protocol version", metadata: ["reason": "\(text)"])
                                return
                            }
                            talked = true
                            self.state.updateLink {
                                $0.connected = true
                                $0.controlPlaneID = welcome.controlPlaneID
                            }
                            self.logger.info("connected to the control plane", metadata: [
                                "cp.id": "\(welcome.controlPlaneID)", "socket": "\(self.configuration.clusterSocket)",
                            ])
                            let interval = Duration.milliseconds(max(50, welcome.heartbeatIntervalMS))
                            let channel = connection.channel
                            group.addTask {
                                try await self.keepAlive(outbound, interval: interval, lastHeard: lastHeard,
                                                         channel: channel)
                            }
                        case .snapshot(let snapshot):
                            // Frames queue unread while a large snapshot is applied: that is not the control
                            // plane going silent.
                            lastHeard.busy(true)
                            let (reply, write) = await self.apply(snapshot)
                            lastHeard.busy(false)
                            try await outbound.write(reply)
                            // The ACK says "serving"; the cache write (fsync) follows, off the reply's path.
                            if let write { writer.yield(write) }
                        case .delta(let delta):
                            lastHeard.busy(true)
                            let (reply, write) = await self.apply(delta)
                            lastHeard.busy(false)
                            try await outbound.write(reply)
                            if let write { writer.yield(write) }
                        case .heartbeat:
                            break
                        case .notice(let notice):
                            self.state.recordError("\(notice.code): \(notice.message)")
                            self.logger.error("control plane notice", metadata: [
                                "code": "\(notice.code)", "message": "\(notice.message)",
                            ])
                        case .error(let e):
                            self.state.recordError("\(e.code): \(e.message)")
                            self.logger.error("control plane closed the connection", metadata: [
                                "code": "\(e.code)", "message": "\(e.message)",
                            ])
                            return
                        case .hello, .ack, .nack:
                            try? await outbound.write(.error(.init(
                                code: ClusterMessage.ProtocolError.unexpected,
                                message: "\(message.kind) is not sent to a data plane")))
                            return
                        }
                    }
                }
            }
        } catch let error as FrameError {
            self.state.recordError("\(error.code): \(error.message)")
            self.logger.error("cluster frame refused", metadata: ["error": "\(error)"])
        } catch {
            self.logger.debug("cluster connection ended", metadata: ["error": "\(error)"])
        }
        self.state.updateLink { $0.connected = false }
        if talked { self.logger.info("disconnected from the control plane; serving the last applied configuration") }
        return talked
    }

    /// What to write to the cache after an apply.
    enum CacheWrite: Sendable {
        case whole(SnapshotCache.Entry)
        case delta(SnapshotCache.JournalRecord, AppliedConfig)
    }

    /// Applies a delta to the configuration served now. Never throws: failures are NACKs (asking for a whole
    /// snapshot when the delta does not fit).
    private func apply(_ delta: ClusterMessage.DeltaFrame) async -> (ClusterMessage, CacheWrite?) {
        let started = ContinuousClock.now
        guard delta.encoding == ClusterMessage.DeltaFrame.encodingJSON else {
            return (self.nack(delta.version, delta.hash, "unknown delta encoding '\(delta.encoding)'"), nil)
        }
        guard let previous = self.state.config else {
            return (self.nack(delta.version, delta.hash, "a delta arrived but no configuration is served", resync: true),
                    nil)
        }
        let payload = Array(delta.payload.readableBytesView)
        let maxSize = self.configuration.maxConfigSize
        let work = { @Sendable () throws(ApplyError) -> AppliedConfig in
            try SnapshotDecoder.apply(delta: payload, version: delta.version, hash: delta.hash,
                                      baseHash: delta.baseHash, maxSize: maxSize, to: previous)
        }
        // A small delta costs well under a millisecond: applied right here, without a hop to the thread pool
        // (the hop costs more than the work on a busy machine). Larger ones go off the cooperative pool.
        let result = payload.count <= Self.inlineDeltaBytes
            ? Result { () throws(ApplyError) in try work() } : await Self.offLoop(work)
        switch result {
        case .failure(let error):
            return (self.nack(delta.version, delta.hash, error.description, resync: error.resync), nil)
        case .success(let config):
            let ms = self.applied(config, started: started, kind: "delta")
            let record = SnapshotCache.JournalRecord(version: delta.version, hash: delta.hash,
                                                     baseVersion: delta.baseVersion, baseHash: delta.baseHash,
                                                     payload: payload)
            return (.ack(.init(version: delta.version, hash: delta.hash, applyMS: ms)), .delta(record, config))
        }
    }

    /// Runs decode work on NIO's thread pool: a large snapshot takes a while, and neither the event loops nor the
    /// cooperative pool (heartbeats) may wait behind it.
    static func offLoop(_ work: @escaping @Sendable () throws(ApplyError) -> AppliedConfig) async
        -> Result<AppliedConfig, ApplyError>
    {
        do {
            return try await NIOThreadPool.singleton.runIfActive { Result { () throws(ApplyError) in try work() } }
        } catch {
            return .failure(ApplyError("the data plane is shutting down"))
        }
    }

    /// Swaps a configuration in and logs it; returns the milliseconds since `started`.
    private func applied(_ config: AppliedConfig, started: ContinuousClock.Instant, kind: String) -> Double {
        let elapsed = ContinuousClock.now - started
        self.state.apply(config, took: elapsed)
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        self.logger.info("config applied", metadata: [
            "gw.config.version": "\(config.version)", "gw.config.hash": "\(config.hash)", "apply_ms": "\(ms)",
            "kind": "\(kind)",
        ])
        return ms
    }

    /// Verifies, decodes, validates and swaps in a snapshot. Never throws: failures are NACKs. Returns the reply
    /// and, when applied, what to cache.
    private func apply(_ snapshot: ClusterMessage.SnapshotFrame) async -> (ClusterMessage, CacheWrite?) {
        let started = ContinuousClock.now
        let compressed = Array(snapshot.payload.readableBytesView)
        guard snapshot.encoding == ClusterMessage.SnapshotFrame.encodingZlibJSON else {
            return (self.nack(snapshot.version, snapshot.hash, "unknown snapshot encoding '\(snapshot.encoding)'"), nil)
        }
        let maxSize = self.configuration.maxConfigSize
        let previous = self.state.config
        let result = await Self.offLoop { () throws(ApplyError) in
            try SnapshotDecoder.decode(version: snapshot.version, hash: snapshot.hash, size: snapshot.size,
                                       compressed: compressed, maxSize: maxSize, source: .controlPlane,
                                       previous: previous)
        }
        switch result {
        case .failure(let error):
            return (self.nack(snapshot.version, snapshot.hash, error.description), nil)
        case .success(let config):
            let ms = self.applied(config, started: started, kind: "snapshot")
            let entry = SnapshotCache.Entry(version: snapshot.version, hash: snapshot.hash, size: snapshot.size,
                                            compressed: compressed)
            return (.ack(.init(version: snapshot.version, hash: snapshot.hash, applyMS: ms)), .whole(entry))
        }
    }

    /// Writes to the cache on NIO's blocking-I/O thread pool: a whole snapshot, or a delta appended to the
    /// journal (and, once the journal outgrows the whole snapshot, what is served written as the new whole one).
    private func persist(_ write: CacheWrite) async {
        let cache = self.cache
        do {
            try await NIOThreadPool.singleton.runIfActive {
                switch write {
                case .whole(let entry):
                    try cache.store(entry)
                case .delta(let record, let config):
                    let journal = try cache.append(record)
                    if journal > max(Self.minCompaction, cache.storedSize() ?? 0) {
                        let payload = config.decoded.canonicalBytes()
                        try cache.store(.init(version: config.version, hash: config.hash, size: payload.count,
                                              compressed: try Deflate.compress(payload, level: 1)))
                    }
                }
            }
        } catch {
            // Serving the new config matters more than caching it; the problem is reported, not hidden.
            self.state.recordError("cache write failed: \(error)")
            self.logger.error("snapshot applied but not cached", metadata: ["error": "\(error)"])
        }
    }

    /// Deltas up to this size are applied on the receiving task.
    static let inlineDeltaBytes = 64 << 10

    /// A journal smaller than this is never compacted.
    static let minCompaction = 4 << 20

    private func nack(_ version: Int64, _ hash: String, _ reason: String, resync: Bool = false) -> ClusterMessage {
        if resync {
            self.logger.info("delta does not fit; asking for a whole snapshot", metadata: [
                "gw.config.version": "\(version)", "reason": "\(reason)",
            ])
        } else {
            self.state.recordError(reason)
            self.logger.error("snapshot rejected; still serving the previous configuration", metadata: [
                "gw.config.version": "\(version)", "reason": "\(reason)",
            ])
        }
        if !resync { self.state.metrics?.configRejected() }
        return .nack(.init(version: version, hash: hash, reason: reason, resync: resync))
    }

    /// Our heartbeat every interval (with what we serve); gives up after 3 silent intervals.
    private func keepAlive(_ outbound: NIOAsyncChannelOutboundWriter<ClusterMessage>, interval: Duration,
                           lastHeard: LastHeard, channel: any Channel) async throws
    {
        while true {
            try await Task.sleep(for: interval)
            if !lastHeard.isBusy, ContinuousClock.now - lastHeard.instant > interval * 3 {
                self.state.recordError("the control plane was silent for 3 heartbeat intervals; reconnecting")
                try? await channel.close()
                return
            }
            let current = self.state.config
            try await outbound.write(.heartbeat(.init(version: current?.version, hash: current?.hash)))
        }
    }
}

import Synchronization

/// When the control plane was last heard from, and whether the client is busy applying (and so not reading).
final class LastHeard: Sendable {
    private let box = Mutex((instant: ContinuousClock.now, busy: false))
    var instant: ContinuousClock.Instant { self.box.withLock { $0.instant } }
    var isBusy: Bool { self.box.withLock { $0.busy } }
    func touch() { self.box.withLock { $0.instant = .now } }
    func busy(_ value: Bool) {
        self.box.withLock {
            $0.busy = value
            $0.instant = .now
        }
    }
}
