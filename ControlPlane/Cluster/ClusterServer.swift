import Foundation
import GatewayModel
package import GatewayProto
package import Logging
import NIOCore
import NIOPosix
package import ServiceLifecycle
import Synchronization

/// Serves the cluster protocol (Proto/PROTOCOL.md) on a Unix socket: greets data planes, pushes them the newest
/// snapshot as soon as it is materialised, and records what each one applied.
package final class ClusterServer: Service, Sendable {
    package struct Configuration: Sendable {
        package var socketPath: String
        package var maxFrame: Int = 256 * 1024 * 1024
        package var heartbeatInterval: Duration = .seconds(1)
        package var helloTimeout: Duration = .seconds(10)
        package var controlPlaneID: String = UUIDString.random()

        package init(socketPath: String) {
            self.socketPath = socketPath
        }
    }

    private let configuration: Configuration
    private let builder: SnapshotBuilder
    package let registry: DataPlaneRegistry
    private let logger: Logger
    private let boundPath = Mutex<String?>(nil)

    package init(configuration: Configuration, builder: SnapshotBuilder, registry: DataPlaneRegistry, logger: Logger) {
        self.configuration = configuration
        self.builder = builder
        self.registry = registry
        self.logger = logger
    }

    typealias Connection = NIOAsyncChannel<ClusterMessage, ClusterMessage>

    package func run() async throws {
        let path = self.configuration.socketPath
        try SocketPath.prepare(path)
        let maxFrame = self.configuration.maxFrame
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(unixDomainSocketPath: path) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try ClusterChannel.configure(channel, maxFrame: maxFrame)
                }
            }
        guard chmod(path, 0o600) == 0 else {
            try? await server.channel.close()
            throw GatewayError.badRequest("cannot set permissions 0600 on the cluster socket \(path)")
        }
        self.boundPath.withLock { $0 = path }
        self.logger.info("cluster socket listening on \(path)")
        defer { unlink(path) }
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await self.serve(connection) }
                    }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    /// One data plane's connection, from hello to close.
    private func serve(_ connection: Connection) async {
        let channel = connection.channel
        let address: String
        switch channel.remoteAddress {
        case .v4(let a)?: address = a.host
        case .v6(let a)?: address = a.host
        default: address = "unix:\(self.configuration.socketPath)"
        }
        let state = ConnectionState()
        do {
            try await connection.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // However the conversation ends, the pusher and the watchdog end with it.
                    defer { group.cancelAll() }
                    // Watchdog: a hello within the timeout, then no silence longer than 3 heartbeat intervals;
                    // sends our heartbeat every interval meanwhile.
                    group.addTask {
                        try await Task.sleep(for: self.configuration.helloTimeout)
                        guard state.session != nil else {
                            try? await outbound.write(.error(.init(code: ClusterMessage.ProtocolError.timeout,
                                                                   message: "no hello within the timeout")))
                            try? await channel.close()
                            return
                        }
                    }
                    for try await message in inbound {
                        state.touch()
                        if let s = state.session { self.registry.heard(s.id, s.token) }
                        switch message {
                        case .hello(let hello):
                            guard state.session == nil else {
                                try await self.refuse(outbound, ClusterMessage.ProtocolError.unexpected,
                                                      "a second hello on one connection")
                                return
                            }
                            guard hello.protocolVersion.major == ProtocolVersion.current.major else {
                                self.logger.warning("data plane refused: protocol version", metadata: [
                                    "dp.id": "\(hello.nodeID)", "dp.protocol": "\(hello.protocolVersion)",
                                ])
                                try await self.refuse(outbound, ClusterMessage.ProtocolError.versionMismatch,
                                    "data plane speaks protocol \(hello.protocolVersion), this control plane speaks "
                                        + "\(ProtocolVersion.current) (majors must match)")
                                return
                            }
                            let token = self.registry.connected(hello, address: address)
                            state.session = (hello.nodeID, token)
                            state.hello = hello
                            self.logger.info("data plane connected", metadata: [
                                "dp.id": "\(hello.nodeID)", "dp.hostname": "\(hello.hostname)", "dp.pid": "\(hello.pid)",
                            ])
                            try await outbound.write(.welcome(.init(
                                controlPlaneID: self.configuration.controlPlaneID,
                                heartbeatIntervalMS: Int(self.configuration.heartbeatInterval.components.seconds * 1000
                                    + self.configuration.heartbeatInterval.components.attoseconds / 1_000_000_000_000_000),
                                maxFrame: self.configuration.maxFrame)))
                            group.addTask {
                                try await self.push(to: outbound, hello: hello, token: token)
                            }
                            group.addTask {
                                try await self.keepAlive(outbound, state: state, channel: channel)
                            }
                        case .ack(let ack):
                            guard let s = state.session else { break }
                            self.registry.applied(s.id, s.token, ack)
                            self.logger.debug("data plane applied", metadata: [
                                "dp.id": "\(s.id)", "gw.config.version": "\(ack.version)", "apply_ms": "\(ack.applyMS)",
                            ])
                        case .nack(let nack):
                            guard let s = state.session else { break }
                            if nack.resync, let hello = state.hello, let newest = self.builder.latestPublished {
                                // The data plane could not apply a delta to what it serves: send it all.
                                self.logger.info("data plane asked for a whole snapshot", metadata: [
                                    "dp.id": "\(s.id)", "reason": "\(nack.reason)",
                                ])
                                _ = try await self.send(newest, to: outbound, hello: hello, token: s.token,
                                                        holding: nil)
                                break
                            }
                            self.registry.failed(s.id, s.token, version: nack.version, reason: nack.reason)
                            self.logger.warning("data plane rejected a snapshot", metadata: [
                                "dp.id": "\(s.id)", "gw.config.version": "\(nack.version)", "reason": "\(nack.reason)",
                            ])
                        case .heartbeat(let hb):
                            guard let s = state.session else { break }
                            self.registry.reported(s.id, s.token, hb)
                        case .error(let e):
                            if let s = state.session {
                                self.registry.failed(s.id, s.token, version: nil, reason: "\(e.code): \(e.message)")
                            }
                            return
                        case .welcome, .snapshot, .delta, .notice:
                            try await self.refuse(outbound, ClusterMessage.ProtocolError.unexpected,
                                                  "\(message.kind) is not sent to a control plane")
                            return
                        }
                        if state.session == nil {
                            try await self.refuse(outbound, ClusterMessage.ProtocolError.unexpected,
                                                  "the first frame must be hello")
                            return
                        }
                    }
                    group.cancelAll()
                }
            }
        } catch let error as FrameError {
            try? await connection.channel.close()
            if let s = state.session { self.registry.failed(s.id, s.token, version: nil, reason: "\(error.code): \(error.message)") }
        } catch {
            self.logger.debug("cluster connection ended", metadata: ["error": "\(error)"])
        }
        if let s = state.session {
            self.registry.disconnected(s.id, s.token)
            self.logger.info("data plane disconnected", metadata: ["dp.id": "\(s.id)"])
        }
    }

    private func refuse(_ outbound: NIOAsyncChannelOutboundWriter<ClusterMessage>, _ code: String, _ message: String)
        async throws
    {
        try await outbound.write(.error(.init(code: code, message: message)))
    }

    /// Sends every newer snapshot (superseded ones are skipped by the subscription): as a delta when the data
    /// plane holds the delta's base, whole otherwise; skips what the data plane already has, and refuses, loudly,
    /// frames above its limit.
    private func push(to outbound: NIOAsyncChannelOutboundWriter<ClusterMessage>, hello: ClusterMessage.Hello,
                      token: UUID) async throws
    {
        var current = hello.configHash
        for await published in self.builder.subscribe() {
            if published.info.hash == current { continue }
            if try await self.send(published, to: outbound, hello: hello, token: token, holding: current) {
                current = published.info.hash
            }
        }
    }

    /// Sends one snapshot; returns whether it went out.
    private func send(_ published: SnapshotBuilder.Published, to outbound: NIOAsyncChannelOutboundWriter<ClusterMessage>,
                      hello: ClusterMessage.Hello, token: UUID, holding current: String?) async throws -> Bool
    {
        let info = published.info
        let message: ClusterMessage
        let frameSize: Int
        if let delta = published.delta, delta.baseHash == current {
            frameSize = delta.payload.readableBytes + 256
            message = .delta(.init(version: info.version, hash: info.hash, baseVersion: delta.baseVersion,
                                   baseHash: delta.baseHash, size: delta.payload.readableBytes, payload: delta.payload))
        } else {
            let compressed = try published.full.compressed()
            frameSize = compressed.readableBytes + 256
            message = .snapshot(.init(version: info.version, hash: info.hash, size: info.size, payload: compressed))
        }
        if hello.maxFrame > 0, frameSize > hello.maxFrame {
            let text = "snapshot \(info.version) needs a \(frameSize)-byte frame; the data plane accepts "
                + "at most \(hello.maxFrame) bytes (raise its --max-frame)"
            self.registry.failed(hello.nodeID, token, version: info.version, reason: text)
            self.logger.error("snapshot not sent: too large for the data plane", metadata: [
                "dp.id": "\(hello.nodeID)", "gw.config.version": "\(info.version)", "size": "\(frameSize)",
            ])
            try await outbound.write(.notice(.init(code: ClusterMessage.Notice.snapshotTooLarge,
                                                   message: text, version: info.version)))
            return false
        }
        try await outbound.write(message)
        self.registry.sent(hello.nodeID, token, version: info.version)
        return true
    }

    /// Our heartbeat every interval; closes the connection after 3 silent intervals.
    private func keepAlive(_ outbound: NIOAsyncChannelOutboundWriter<ClusterMessage>,
                           state: ConnectionState, channel: any Channel) async throws
    {
        let interval = self.configuration.heartbeatInterval
        while true {
            try await Task.sleep(for: interval)
            if ContinuousClock.now - state.lastHeard > interval * 3 {
                try? await outbound.write(.error(.init(code: ClusterMessage.ProtocolError.timeout,
                                                       message: "no frame for 3 heartbeat intervals")))
                try? await channel.close()
                return
            }
            let newest = self.builder.latest
            try await outbound.write(.heartbeat(.init(version: newest?.version, hash: newest?.hash)))
        }
    }
}

/// Per-connection state shared by the reader, the pusher and the watchdog.
final class ConnectionState: Sendable {
    private let box = Mutex<(session: (id: String, token: UUID)?, lastHeard: ContinuousClock.Instant)>((nil, .now))
    private let helloBox = Mutex<ClusterMessage.Hello?>(nil)

    var hello: ClusterMessage.Hello? {
        get { self.helloBox.withLock { $0 } }
        set { self.helloBox.withLock { $0 = newValue } }
    }

    var session: (id: String, token: UUID)? {
        get { self.box.withLock { $0.session } }
        set { self.box.withLock { $0.session = newValue } }
    }

    var lastHeard: ContinuousClock.Instant { self.box.withLock { $0.lastHeard } }

    func touch() { self.box.withLock { $0.lastHeard = .now } }
}

/// Preparing the cluster socket's path: a 0700 directory we create if needed, and a stale socket file from a
/// crashed run removed (but never a live one, nor anything that is not a socket).
///
/// An existing directory must belong to this user (or root) and be writable by no one else: whoever can write there
/// can replace the socket with their own and feed data planes a configuration (or take theirs). Such a directory
/// is refused with the fix in the message, never used.
package enum SocketPath {
    package static func prepare(_ path: String) throws {
        guard path.utf8.count < 108 else {
            throw GatewayError.badRequest("cluster socket path is too long for a Unix socket (\(path.utf8.count) bytes, max 107): \(path)")
        }
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
        if !dir.isEmpty, !FileManager.default.fileExists(atPath: dir) {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw GatewayError.badRequest("cannot create the cluster socket directory \(dir): \(error.localizedDescription)")
            }
        }
        try self.checkPrivate(dir.isEmpty ? "." : dir)
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard (st.st_mode & S_IFMT) == S_IFSOCK else {
            throw GatewayError.badRequest("\(path) exists and is not a socket; refusing to replace it")
        }
        if self.isLive(path) {
            throw GatewayError.badRequest("cluster socket \(path) is in use by another running control plane")
        }
        unlink(path)
    }

    /// Refuses a directory that others can write to or that another user owns.
    package static func checkPrivate(_ dir: String) throws {
        var st = stat()
        guard stat(dir, &st) == 0 else {
            throw GatewayError.badRequest("cannot inspect the cluster socket directory \(dir): \(String(cString: strerror(errno)))")
        }
        let mode = st.st_mode & 0o777
        if st.st_mode & (S_IWGRP | S_IWOTH) != 0 {
            throw GatewayError.badRequest(
                "the cluster socket directory \(dir) is writable by others (mode \(String(mode, radix: 8))): anyone who "
                    + "can write there could replace the socket; use a directory only this user can write to "
                    + "(chmod 700 \(dir)) or another --cluster-socket path")
        }
        let me = geteuid()
        if st.st_uid != me, st.st_uid != 0 {
            throw GatewayError.badRequest(
                "the cluster socket directory \(dir) belongs to another user (uid \(st.st_uid)); use a directory of "
                    + "your own for --cluster-socket")
        }
    }

    /// Whether something accepts connections on the socket.
    package static func isLive(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() where i < raw.count - 1 { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return rc == 0
    }
}
