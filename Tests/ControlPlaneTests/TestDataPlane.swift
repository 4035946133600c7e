import Foundation
import GatewayModel
import GatewayProto
import NIOCore
import NIOPosix

/// A data plane played by the test: the cluster protocol over the real Unix socket, message by message.
struct TestDataPlane: Sendable {
    let channel: NIOAsyncChannel<ClusterMessage, ClusterMessage>
    let inbox: AsyncThrowingStream<ClusterMessage, any Error>
    private let pump: @Sendable () -> Void
    private let closer: Closer

    /// Finishes the writer and closes the channel when the last copy goes, so a test that throws before
    /// ``close()`` fails with its own error rather than NIOAsyncWriter's deinit trap.
    private final class Closer: Sendable {
        let channel: NIOAsyncChannel<ClusterMessage, ClusterMessage>
        init(_ channel: NIOAsyncChannel<ClusterMessage, ClusterMessage>) { self.channel = channel }
        deinit {
            self.channel.outbound.finish()
            self.channel.channel.close(promise: nil)
        }
    }

    /// Starts reading, for a data plane connected with `paused: true` (until then nothing is read, so the
    /// socket buffers fill up like those of a stalled data plane).
    func resume() { self.pump() }

    static func connect(_ path: String, maxFrame: Int = 1 << 28, paused: Bool = false) async throws -> TestDataPlane {
        // The socket appears once the cluster service runs; wait for it (bounded).
        let deadline = ContinuousClock.now + .seconds(10)
        while !FileManager.default.fileExists(atPath: path), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        func attempt() async throws -> NIOAsyncChannel<ClusterMessage, ClusterMessage> {
            try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: path) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // Read at most one message ahead of the test, so a paused data plane stalls like a real one.
                        try ClusterChannel.configure(channel, maxFrame: maxFrame, configuration: .init(
                            backPressureStrategy: .init(lowWatermark: 1, highWatermark: 1)))
                    }
                }
        }
        // The file exists from bind(); until listen() a connect is refused: retry (bounded).
        var channel: NIOAsyncChannel<ClusterMessage, ClusterMessage>
        while true {
            do {
                channel = try await attempt()
                break
            } catch {
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: ClusterMessage.self)
        let inbound = channel.inbound
        let outbound = channel.outbound
        let pump: @Sendable () -> Void = {
            Task {
                do {
                    for try await m in inbound {
                        // Like a live data plane, answer the server's heartbeat, so that a test slowed down by a
                        // loaded machine is not taken for a dead peer (3 silent intervals). It carries no state.
                        if case .heartbeat = m { try? await outbound.write(.heartbeat(.init(version: nil, hash: nil))) }
                        continuation.yield(m)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
        }
        if !paused { pump() }
        return TestDataPlane(channel: channel, inbox: stream, pump: pump, closer: Closer(channel))
    }

    static func hello(id: String = UUID().uuidString, hash: String? = nil, version: Int64? = nil,
                      major: Int = ProtocolVersion.current.major, maxFrame: Int = 1 << 28) -> ClusterMessage
    {
        .hello(.init(protocolVersion: .init(major: major, minor: 3), nodeID: id, hostname: "test-host", pid: 4242,
                     softwareVersion: "test", configVersion: version, configHash: hash, maxFrame: maxFrame))
    }

    func send(_ m: ClusterMessage) async throws { try await self.channel.outbound.write(m) }

    /// The next message that is not a heartbeat, or nil if the connection closed; fails after `timeout`.
    func next(timeout: Duration = .seconds(5), skipHeartbeats: Bool = true) async throws -> ClusterMessage? {
        try await withThrowingTaskGroup(of: ClusterMessage?.self) { group in
            group.addTask {
                for try await m in self.inbox {
                    if skipHeartbeats, case .heartbeat = m { continue }
                    return m
                }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw TestFailure("no message within \(timeout)")
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// Must be called once per connection (NIOAsyncChannel requires its writer to be finished).
    func close() async {
        self.channel.outbound.finish()
        try? await self.channel.channel.close()
    }
}
