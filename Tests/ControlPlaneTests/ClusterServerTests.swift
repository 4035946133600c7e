import ControlPlane
import Foundation
import GatewayModel
import GatewayProto
import HTTPTypes
import NIOCore
import Testing

@Suite struct ClusterServerTests {
    /// Decodes a snapshot frame the way a data plane must: inflate, check the hash, parse.
    static func content(_ s: ClusterMessage.SnapshotFrame) throws -> ConfigContent {
        let inflated = try Deflate.decompress(Array(s.payload.readableBytesView), expectedSize: s.size)
        #expect(try ConfigHash.of(payload: inflated) == s.hash)
        return try ConfigContent.decode(inflated)
    }

    /// Applies a delta frame to the configuration it is based on, checking the base and the result's hash.
    static func content(_ d: ClusterMessage.DeltaFrame, on base: ClusterMessage.SnapshotFrame) throws -> ConfigContent {
        #expect(d.baseHash == base.hash)
        let inflated = try Deflate.decompress(Array(base.payload.readableBytesView), expectedSize: base.size)
        let decoded = try IncrementalDecoder.decode(inflated, previous: nil)
        let applied = try decoded.applying(try DecodedDelta.decode(Array(d.payload.readableBytesView)))
        #expect(applied.hash == d.hash)
        return applied.content
    }

    @Test func greetsPushesAndTracksDataPlanes() async throws {
        try await AdminHarness().run { admin, cp in
            _ = try await admin.json(.post, "/services", ["name": "s", "host": "example.com"])
            let first = try await cp.builder.buildIfNeeded()

            let dp = try await TestDataPlane.connect(cp.socketPath)
            try await dp.send(TestDataPlane.hello(id: "dp-a"))
            guard case .welcome(let welcome)? = try await dp.next() else { throw TestFailure("no welcome") }
            #expect(welcome.protocolVersion.major == ProtocolVersion.current.major)
            #expect(welcome.heartbeatIntervalMS == 1000)
            guard case .snapshot(let snap)? = try await dp.next() else { throw TestFailure("no snapshot") }
            #expect(snap.version == first.version)
            #expect(snap.hash == first.hash)
            #expect(try Self.content(snap)["services"].count == 1)
            try await dp.send(.ack(.init(version: snap.version, hash: snap.hash, applyMS: 1.25)))
            // The control plane knows what the data plane holds before the change (a delta needs that base; on a
            // loaded machine the change could otherwise be built before the ACK is read, and go out whole).
            try await Self.eventually {
                try await admin.get("/clustering/data-planes")["data"]?.arrayValue?.first?["config_hash"]
                    == .string(snap.hash)
            }

            // An admin change reaches the connected data plane.
            _ = try await admin.json(.post, "/services", ["name": "t", "host": "example.org"])
            // As a delta from what the data plane holds.
            guard case .delta(let next)? = try await dp.next() else { throw TestFailure("no delta") }
            #expect(next.version > snap.version)
            #expect(next.baseVersion == snap.version)
            #expect(try Self.content(next, on: snap)["services"].count == 2)
            try await dp.send(.ack(.init(version: next.version, hash: next.hash, applyMS: 0.5)))

            try await Self.eventually {
                let row = try await admin.get("/clustering/data-planes")["data"]?.arrayValue?.first
                return row?["config_hash"] == .string(next.hash) && row?["sync_status"] == "normal"
            }
            let row = try #require(try await admin.get("/clustering/data-planes")["data"]?.arrayValue?.first)
            #expect(row["id"] == "dp-a")
            #expect(row["hostname"] == "test-host")
            #expect(row["pid"] == 4242)
            #expect(row["protocol_version"] == .string("\(ProtocolVersion.current.major).3"))
            #expect(row["config_version"] == .int(next.version))
            #expect(row["apply_ms"] == 0.5)
            #expect(row["last_error"] == .null)
            let status = try await admin.get("/clustering/status")
            #expect(status["converged"] == true)
            #expect(status["data_planes"]?["normal"] == 1)
            let waited = try await admin.get("/clustering/status?wait_for_version=\(next.version)&timeout_ms=2000")
            #expect(waited["reached"] == true)
            let future = try await admin.get("/clustering/status?wait_for_version=\(next.version + 100)&timeout_ms=50")
            #expect(future["reached"] == false)
            #expect((future["waited_ms"]?.doubleValue ?? 0) >= 50)
            #expect(try await admin.get("/clustering/status?wait_for_version=x").status == 400)

            await dp.close()
            try await Self.eventually {
                try await admin.get("/clustering/data-planes")["data"]?.arrayValue?.first?["sync_status"] == "offline"
            }
        }
    }

    @Test func skipsWhatTheDataPlaneAlreadyHasAndRecordsNacks() async throws {
        // This test data plane sends no heartbeats: 2 s intervals leave it 6 s of silence on a loaded machine.
        try await AdminHarness(heartbeat: .seconds(2)).run { admin, cp in
            let current = try await cp.builder.buildIfNeeded()
            let dp = try await TestDataPlane.connect(cp.socketPath)
            try await dp.send(TestDataPlane.hello(id: "dp-b", hash: current.hash, version: current.version))
            guard case .welcome? = try await dp.next() else { throw TestFailure("no welcome") }
            // Nothing to send: the next frame is the server's heartbeat.
            guard case .heartbeat(let hb)? = try await dp.next(timeout: .seconds(10), skipHeartbeats: false) else {
                throw TestFailure("expected a heartbeat, not a snapshot")
            }
            #expect(hb.hash == current.hash)

            _ = try await admin.json(.post, "/consumers", ["username": "x"])
            guard case .delta(let snap)? = try await dp.next() else { throw TestFailure("no delta") }
            #expect(snap.baseHash == current.hash)
            // A data plane that cannot apply a delta to what it holds asks for the whole snapshot and gets it.
            try await dp.send(.nack(.init(version: snap.version, hash: snap.hash, reason: "base mismatch", resync: true)))
            guard case .snapshot(let whole)? = try await dp.next() else { throw TestFailure("no whole snapshot") }
            #expect(whole.version == snap.version)
            #expect(whole.hash == snap.hash)
            #expect(try Self.content(whole)["consumers"].count == 1)
            try await dp.send(.nack(.init(version: snap.version, hash: snap.hash, reason: "route r1: cannot compile")))
            try await Self.eventually {
                let row = try await admin.get("/clustering/data-planes")["data"]?.arrayValue?.first
                return row?["sync_status"] == "failed"
            }
            let row = try #require(try await admin.get("/clustering/data-planes")["data"]?.arrayValue?.first)
            #expect(row["last_error"] == "route r1: cannot compile")
            #expect(row["config_hash"] == .string(current.hash))
            #expect(try await admin.get("/clustering/status")["converged"] == false)
            await dp.close()
        }
    }

    @Test func refusesAnotherMajorVersionAndGarbage() async throws {
        try await AdminHarness().run { _, cp in
            let dp = try await TestDataPlane.connect(cp.socketPath)
            try await dp.send(TestDataPlane.hello(major: ProtocolVersion.current.major + 1))
            guard case .error(let e)? = try await dp.next() else { throw TestFailure("no error") }
            #expect(e.code == "protocol_version")
            #expect(e.message.contains("\(ProtocolVersion.current.major + 1).3"))
            #expect(try await dp.next() == nil)
            await dp.close()

            let early = try await TestDataPlane.connect(cp.socketPath)
            try await early.send(.ack(.init(version: 1, hash: String(repeating: "0", count: 64), applyMS: 0)))
            guard case .error(let e2)? = try await early.next() else { throw TestFailure("no error") }
            #expect(e2.code == "unexpected_message")
            #expect(try await early.next() == nil)
            await early.close()
        }
    }

    @Test func tooLargeSnapshotsAreReportedNotDropped() async throws {
        try await AdminHarness().run { admin, cp in
            for i in 0..<50 { _ = try await admin.json(.post, "/consumers", ["username": .string("user-\(i)")]) }
            let current = try await cp.builder.buildIfNeeded()
            let dp = try await TestDataPlane.connect(cp.socketPath)
            try await dp.send(TestDataPlane.hello(id: "dp-small", maxFrame: 512))
            guard case .welcome? = try await dp.next() else { throw TestFailure("no welcome") }
            guard case .notice(let n)? = try await dp.next() else { throw TestFailure("no notice") }
            #expect(n.code == "snapshot_too_large")
            #expect(n.version == current.version)
            #expect(n.message.contains("--max-frame"))
            try await Self.eventually {
                let row = try await admin.get("/clustering/data-planes")["data"]?.arrayValue?.first
                return row?["last_error"]?.stringValue?.contains("512") == true
            }
            await dp.close()
        }
    }

    @Test func socketIsPrivate() async throws {
        try await AdminHarness().run { _, cp in
            let dp = try await TestDataPlane.connect(cp.socketPath)
            await dp.close()
            let attributes = try FileManager.default.attributesOfItem(atPath: cp.socketPath)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
        }
    }

    /// Polls `condition` until it holds (bounded: 5 s).
    static func eventually(_ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await condition(), "condition did not hold within 5 s")
    }
}

@Suite struct SocketPathTests {
    static func tempDir() throws -> String {
        let dir = "/tmp/pc-sock-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Binds a Unix socket at `path`; listening or not.
    static func bind(_ path: String, listen: Bool) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in Array(path.utf8).enumerated() { raw[i] = b }
        }
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if listen { _ = Glibc.listen(fd, 1) }
        return fd
    }

    @Test func staleSocketIsReplacedLiveOneAndFilesAreNot() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let stale = "\(dir)/stale.sock"
        close(Self.bind(stale, listen: false))  // a crashed run leaves the file behind
        #expect(FileManager.default.fileExists(atPath: stale))
        try SocketPath.prepare(stale)
        #expect(!FileManager.default.fileExists(atPath: stale))

        let live = "\(dir)/live.sock"
        let fd = Self.bind(live, listen: true)
        defer { close(fd) }
        #expect(throws: GatewayError.self) { try SocketPath.prepare(live) }
        #expect(FileManager.default.fileExists(atPath: live))

        let file = "\(dir)/not-a-socket"
        FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        #expect(throws: GatewayError.self) { try SocketPath.prepare(file) }
        #expect(FileManager.default.fileExists(atPath: file))
    }

    @Test func createsAPrivateDirectory() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/new/cluster.sock"
        try SocketPath.prepare(path)
        let attributes = try FileManager.default.attributesOfItem(atPath: "\(dir)/new")
        #expect((attributes[.posixPermissions] as? Int) == 0o700)
        #expect(throws: GatewayError.self) { try SocketPath.prepare("/tmp/" + String(repeating: "x", count: 120)) }
    }

    @Test func refusesADirectoryOthersCanWriteTo() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for mode in [0o777, 0o770, 0o1777] {
            chmod(dir, mode_t(mode))
            #expect(throws: GatewayError.self, "mode \(String(mode, radix: 8))") {
                try SocketPath.prepare("\(dir)/cluster.sock")
            }
            do {
                try SocketPath.prepare("\(dir)/cluster.sock")
            } catch {
                #expect("\(error)".contains("writable by others"), "\(error)")
            }
        }
        chmod(dir, 0o755)
        try SocketPath.prepare("\(dir)/cluster.sock")
        chmod(dir, 0o700)
        try SocketPath.prepare("\(dir)/cluster.sock")
    }
}

@Suite struct SlowDataPlaneTests {
    @Test func aStalledDataPlaneDelaysNobodyAndLaterGetsOnlyTheNewest() async throws {
        // The test data planes send no heartbeats: a long interval keeps the control plane from dropping them as
        // silent while the machine is slow.
        try await AdminHarness(heartbeat: .seconds(30)).run { admin, cp in
            // Snapshots of a few hundred KiB (ids compress badly): a couple of them fill a stalled socket.
            let consumers: [JSON] = (0..<4000).map { i in
                ["username": .string("user-\(i)"), "custom_id": .string(UUIDString.random() + UUIDString.random())]
            }
            let imported = try await admin.json(.post, "/config", ["_format_version": "3.0", "consumers": .array(consumers)])
            #expect(imported.status == 201)
            _ = try await cp.builder.buildIfNeeded()

            let slow = try await TestDataPlane.connect(cp.socketPath, paused: true)
            try await slow.send(TestDataPlane.hello(id: "slow"))
            let fast = try await TestDataPlane.connect(cp.socketPath)
            try await fast.send(TestDataPlane.hello(id: "fast"))
            guard case .welcome? = try await fast.next() else { throw TestFailure("no welcome") }

            var last: Int64 = 0
            for i in 0..<8 {
                _ = try await admin.json(.post, "/consumers", ["username": .string("extra-\(i)")])
                let newest = try await cp.builder.buildIfNeeded()
                // The fast data plane gets every version promptly although the slow one reads nothing.
                var got: Int64 = -1
                while got < newest.version {
                    // Generous for a loaded CI machine: a fast data plane held back by the slow one would wait forever.
                    switch try await fast.next(timeout: .seconds(30)) {
                    case .snapshot(let s)?: got = s.version
                    case .delta(let d)?: got = d.version
                    default: throw TestFailure("fast data plane starved")
                    }
                }
                last = newest.version
            }

            slow.resume()
            var versions: [Int64] = []
            while versions.last != last {
                let message = try await slow.next(timeout: .seconds(10))
                if case .snapshot(let s)? = message { versions.append(s.version) }
                if case .delta(let d)? = message { versions.append(d.version) }
                if message == nil { break }
            }
            #expect(versions.last == last)
            // What was in flight when it stalled, then straight to the newest: superseded versions were dropped.
            #expect(versions.count <= 3, "the stalled data plane received \(versions)")
            await slow.close()
            await fast.close()
        }
    }
}
