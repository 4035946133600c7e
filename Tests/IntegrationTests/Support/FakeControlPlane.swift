import Foundation
import GatewayModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A control plane played by the test on a real Unix socket, written from Proto/PROTOCOL.md by hand (frames
/// built byte by byte, not with the project's codec): it can send what a real control plane never would —
/// torn frames, bad bodies, payloads that do not match their hash, configurations the real one refuses.
/// Non-blocking; every wait is bounded.
final class FakeControlPlane {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// A frame from the data plane: its type byte and JSON body.
    struct Frame {
        var type: UInt8
        var json: JSON
    }

    let path: String
    private let listener: Int32
    private var connection: Int32 = -1
    private var inbox: [UInt8] = []

    init(path: String) throws {
        self.path = path
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket(AF_UNIX) failed: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw Failure(description: "socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 8) == 0 else {
            close(fd)
            throw Failure(description: "bind/listen on \(path) failed: errno \(errno)")
        }
        chmod(path, 0o600)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.listener = fd
    }

    deinit {
        if self.connection >= 0 { close(self.connection) }
        close(self.listener)
        unlink(self.path)
    }

    /// Waits for the data plane to connect and say hello; answers with a welcome (a long heartbeat interval, so
    /// nothing times out while a test takes its time). Returns the hello's body.
    @discardableResult
    func accept(timeout: Duration = .seconds(20), heartbeatMS: Int = 60_000) async throws -> JSON {
        self.drop()
        let deadline = ContinuousClock.now + timeout
        while true {
            let fd = Glibc.accept(self.listener, nil, nil)
            if fd >= 0 {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                self.connection = fd
                break
            }
            guard errno == EAGAIN || errno == EWOULDBLOCK, ContinuousClock.now < deadline else {
                throw Failure(description: "no data plane connected to \(self.path) within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        guard let hello = try await self.next(timeout: timeout), hello.type == 1 else {
            throw Failure(description: "the data plane's first frame was not a hello")
        }
        try await self.sendFrame(type: 2, json: [
            "protocol": [2, 0], "cp_id": "fake-control-plane", "heartbeat_interval_ms": .int(Int64(heartbeatMS)),
            "max_frame": .int(1 << 28),
        ])
        return hello.json
    }

    /// Closes the connection (the data plane reconnects).
    func drop() {
        if self.connection >= 0 { close(self.connection) }
        self.connection = -1
        self.inbox = []
    }

    // MARK: Frames out

    static func u32(_ n: Int) -> [UInt8] {
        [UInt8(truncatingIfNeeded: n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8),
         UInt8(truncatingIfNeeded: n)]
    }

    /// `length | type | body`.
    static func frame(type: UInt8, body: [UInt8]) -> [UInt8] {
        Self.u32(body.count + 1) + [type] + body
    }

    /// A snapshot (type 3) or delta (type 9) body: `header length | header JSON | payload`.
    static func binaryBody(header: JSON, payload: [UInt8]) -> [UInt8] {
        let h = JSONWriter.bytes(header)
        return Self.u32(h.count) + h + payload
    }

    func sendFrame(type: UInt8, json: JSON) async throws {
        try await self.sendRaw(Self.frame(type: type, body: JSONWriter.bytes(json)))
    }

    func sendSnapshot(version: Int64, hash: String, size: Int, compressed: [UInt8],
                      encoding: String = "zlib+json") async throws
    {
        let header: JSON = ["version": .int(version), "hash": .string(hash), "size": .int(Int64(size)),
                            "encoding": .string(encoding)]
        try await self.sendRaw(Self.frame(type: 3, body: Self.binaryBody(header: header, payload: compressed)))
    }

    func sendSnapshot(_ snapshot: Snapshot, version: Int64) async throws {
        try await self.sendSnapshot(version: version, hash: snapshot.hash, size: snapshot.size,
                                    compressed: snapshot.compressed)
    }

    func sendDelta(version: Int64, hash: String, baseVersion: Int64, baseHash: String, payload: [UInt8]) async throws {
        let header: JSON = ["version": .int(version), "hash": .string(hash), "base_version": .int(baseVersion),
                            "base_hash": .string(baseHash), "size": .int(Int64(payload.count)), "encoding": "json"]
        try await self.sendRaw(Self.frame(type: 9, body: Self.binaryBody(header: header, payload: payload)))
    }

    /// Writes bytes as they are (bounded: 5 s of a full buffer fails).
    func sendRaw(_ bytes: [UInt8]) async throws {
        guard self.connection >= 0 else { throw Failure(description: "no data plane connected") }
        var offset = 0
        let deadline = ContinuousClock.now + .seconds(5)
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(self.connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                offset += n
            } else if n < 0, errno == EAGAIN || errno == EWOULDBLOCK, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            } else {
                throw Failure(description: "send to the data plane failed: errno \(errno)")
            }
        }
    }

    // MARK: Frames in

    /// The next frame that is not a heartbeat; nil when the data plane closed the connection.
    func next(timeout: Duration = .seconds(20)) async throws -> Frame? {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            while self.inbox.count >= 5 {
                let length = (Int(self.inbox[0]) << 24) | (Int(self.inbox[1]) << 16) | (Int(self.inbox[2]) << 8)
                    | Int(self.inbox[3])
                guard length >= 1 else { throw Failure(description: "a frame of length 0 from the data plane") }
                guard self.inbox.count >= 4 + length else { break }
                let type = self.inbox[4]
                let body = Array(self.inbox[5..<(4 + length)])
                self.inbox.removeFirst(4 + length)
                if type == 6 { continue }  // heartbeat
                guard let json = try? JSONParser.parse(body) else {
                    throw Failure(description: "frame type \(type) with a body that is not JSON")
                }
                return Frame(type: type, json: json)
            }
            guard self.connection >= 0 else { return nil }
            let n = buffer.withUnsafeMutableBytes { recv(self.connection, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                self.inbox += buffer[0..<n]
                continue
            }
            if n == 0 { return nil }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { return nil }
            guard ContinuousClock.now < deadline else {
                throw Failure(description: "no frame from the data plane within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The next frame, which must be an ACK (type 4) or NACK (type 5) for `version`.
    func reply(to version: Int64) async throws -> Frame {
        guard let frame = try await self.next() else {
            throw Failure(description: "the data plane closed the connection instead of answering version \(version)")
        }
        guard frame.type == 4 || frame.type == 5, frame.json["version"]?.intValue == version else {
            throw Failure(description: "expected an ACK or NACK of \(version), got type \(frame.type): "
                + JSONWriter.string(frame.json))
        }
        return frame
    }

    /// Waits (bounded) until the data plane closes the connection, skipping whatever it sends before.
    func waitForClose(timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard (try await self.next(timeout: deadline - ContinuousClock.now)) != nil else {
                self.drop()
                return
            }
        }
        throw Failure(description: "the data plane kept the connection open for \(timeout)")
    }

    /// A configuration as a control plane would send it whole.
    struct Snapshot {
        var content: ConfigContent
        var hash: String
        var size: Int
        var compressed: [UInt8]

        init(_ content: ConfigContent) throws {
            let bytes = content.canonicalBytes()
            self.content = content
            self.hash = try ConfigHash.of(payload: bytes)
            self.size = bytes.count
            self.compressed = try Deflate.compress(bytes, level: 1)
        }

        /// From a declarative document in YAML.
        init(yaml: String, trustedIPs: [String] = []) throws {
            let document = try YAMLBridge.parse(yaml)
            try self.init(DeclarativeLoader.load(document, trustedIPs: trustedIPs, now: 1_700_000_000).get())
        }

        /// The rows form deltas are computed on.
        var rows: ConfigRows {
            var bodies: [String: [(id: String, body: String)]] = [:]
            for (type, list) in self.content.entities {
                bodies[type] = list.map { ($0["id"]?.stringValue ?? "", JSONWriter.string(.object($0))) }
            }
            return ConfigRows(bodies: bodies, trustedIPs: self.content.trustedIPs)
        }
    }
}
