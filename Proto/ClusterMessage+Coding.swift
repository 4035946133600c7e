package import GatewayModel
package import NIOCore

/// Why bytes are not a valid cluster frame.
package struct FrameError: Error, Sendable, Equatable, CustomStringConvertible {
    package var code: String
    package var message: String

    package var description: String { self.message }

    package static func tooLarge(_ size: Int, limit: Int) -> FrameError {
        FrameError(code: ClusterMessage.ProtocolError.frameTooLarge,
                   message: "frame of \(size) bytes exceeds the limit of \(limit) bytes")
    }

    package static func bad(_ message: String) -> FrameError {
        FrameError(code: ClusterMessage.ProtocolError.badMessage, message: message)
    }
}

extension ClusterMessage {
    /// Writes the frame body (everything after the type byte).
    package func writeBody(into buffer: inout ByteBuffer) {
        switch self {
        case .snapshot(let s):
            let header = JSONWriter.bytes([
                "version": .int(s.version), "hash": .string(s.hash), "size": .int(Int64(s.size)),
                "encoding": .string(s.encoding),
            ])
            buffer.writeInteger(UInt32(header.count))
            buffer.writeBytes(header)
            var payload = s.payload
            buffer.writeBuffer(&payload)
        case .delta(let d):
            let header = JSONWriter.bytes([
                "version": .int(d.version), "hash": .string(d.hash), "base_version": .int(d.baseVersion),
                "base_hash": .string(d.baseHash), "size": .int(Int64(d.size)), "encoding": .string(d.encoding),
            ])
            buffer.writeInteger(UInt32(header.count))
            buffer.writeBytes(header)
            var payload = d.payload
            buffer.writeBuffer(&payload)
        default:
            buffer.writeBytes(JSONWriter.bytes(self.bodyJSON))
        }
    }

    private var bodyJSON: JSON {
        func optional<T>(_ v: T?, _ f: (T) -> JSON) -> JSON { v.map(f) ?? .null }
        switch self {
        case .hello(let h):
            return [
                "protocol": h.protocolVersion.json, "node_id": .string(h.nodeID), "hostname": .string(h.hostname),
                "pid": .int(Int64(h.pid)), "software_version": .string(h.softwareVersion),
                "config_version": optional(h.configVersion) { .int($0) }, "config_hash": optional(h.configHash, JSON.string),
                "max_frame": .int(Int64(h.maxFrame)),
            ]
        case .welcome(let w):
            return [
                "protocol": w.protocolVersion.json, "cp_id": .string(w.controlPlaneID),
                "heartbeat_interval_ms": .int(Int64(w.heartbeatIntervalMS)), "max_frame": .int(Int64(w.maxFrame)),
            ]
        case .ack(let a):
            return ["version": .int(a.version), "hash": .string(a.hash), "apply_ms": .double(a.applyMS)]
        case .nack(let n):
            var o: JSONObject = ["version": .int(n.version), "hash": .string(n.hash), "reason": .string(n.reason)]
            if n.resync { o["resync"] = true }
            return .object(o)
        case .heartbeat(let h):
            return ["version": optional(h.version) { .int($0) }, "hash": optional(h.hash, JSON.string)]
        case .error(let e):
            return ["code": .string(e.code), "message": .string(e.message)]
        case .notice(let n):
            return ["code": .string(n.code), "message": .string(n.message), "version": optional(n.version) { .int($0) }]
        case .snapshot, .delta:
            return .null
        }
    }

    /// Reads a message from its type byte and body. Unknown fields are ignored (newer minors may add some).
    package static func decode(type: UInt8, body: ByteBuffer) throws(FrameError) -> ClusterMessage {
        guard let kind = Kind(rawValue: type) else { throw .bad("unknown message type \(type)") }
        var body = body
        if kind == .snapshot {
            let header = try Self.binaryHeader(&body, kind)
            guard let version = header["version"]?.intValue, version >= 0, let hash = header["hash"]?.stringValue,
                Self.isHash(hash), let size = header["size"]?.intValue, size >= 0,
                let encoding = header["encoding"]?.stringValue
            else { throw .bad("snapshot header needs version, hash (64 hex), size and encoding") }
            return .snapshot(SnapshotFrame(version: version, hash: hash, size: Int(size), encoding: encoding,
                                           payload: body))
        }
        if kind == .delta {
            let header = try Self.binaryHeader(&body, kind)
            guard let version = header["version"]?.intValue, version >= 0, let hash = header["hash"]?.stringValue,
                Self.isHash(hash), let baseVersion = header["base_version"]?.intValue, baseVersion >= 0,
                let baseHash = header["base_hash"]?.stringValue, Self.isHash(baseHash),
                let size = header["size"]?.intValue, size >= 0, let encoding = header["encoding"]?.stringValue
            else { throw .bad("delta header needs version, hash, base_version, base_hash (64 hex), size and encoding") }
            return .delta(DeltaFrame(version: version, hash: hash, baseVersion: baseVersion, baseHash: baseHash,
                                     size: Int(size), encoding: encoding, payload: body))
        }
        let o = try Self.object(Array(body.readableBytesView), kind)
        switch kind {
        case .hello:
            guard let version = ProtocolVersion(json: o["protocol"]) else { throw .bad("hello needs protocol [major, minor]") }
            guard let node = o["node_id"]?.stringValue, !node.isEmpty else { throw .bad("hello needs node_id") }
            return .hello(Hello(
                protocolVersion: version, nodeID: node, hostname: o["hostname"]?.stringValue ?? "",
                pid: Int(o["pid"]?.intValue ?? 0), softwareVersion: o["software_version"]?.stringValue ?? "",
                configVersion: o["config_version"]?.intValue, configHash: o["config_hash"]?.stringValue,
                maxFrame: Int(o["max_frame"]?.intValue ?? 0)))
        case .welcome:
            guard let version = ProtocolVersion(json: o["protocol"]) else { throw .bad("welcome needs protocol [major, minor]") }
            return .welcome(Welcome(
                protocolVersion: version, controlPlaneID: o["cp_id"]?.stringValue ?? "",
                heartbeatIntervalMS: Int(o["heartbeat_interval_ms"]?.intValue ?? 5000),
                maxFrame: Int(o["max_frame"]?.intValue ?? 0)))
        case .ack:
            guard let version = o["version"]?.intValue, let hash = o["hash"]?.stringValue else {
                throw .bad("ack needs version and hash")
            }
            return .ack(Ack(version: version, hash: hash, applyMS: o["apply_ms"]?.doubleValue ?? 0))
        case .nack:
            guard let version = o["version"]?.intValue, let hash = o["hash"]?.stringValue else {
                throw .bad("nack needs version and hash")
            }
            return .nack(Nack(version: version, hash: hash, reason: o["reason"]?.stringValue ?? "unspecified",
                              resync: o["resync"]?.boolValue ?? false))
        case .heartbeat:
            return .heartbeat(Heartbeat(version: o["version"]?.intValue, hash: o["hash"]?.stringValue))
        case .error:
            return .error(ProtocolError(code: o["code"]?.stringValue ?? "unknown",
                                        message: o["message"]?.stringValue ?? ""))
        case .notice:
            return .notice(Notice(code: o["code"]?.stringValue ?? "unknown", message: o["message"]?.stringValue ?? "",
                                  version: o["version"]?.intValue))
        case .snapshot, .delta:
            throw .bad("unreachable")
        }
    }

    /// The JSON header that starts `snapshot` and `delta` bodies (u32 BE length, then the object); `body` is left at
    /// the payload.
    private static func binaryHeader(_ body: inout ByteBuffer, _ kind: Kind) throws(FrameError) -> JSONObject {
        guard let headerLength = body.readInteger(as: UInt32.self), Int(headerLength) <= body.readableBytes,
            let headerBytes = body.readBytes(length: Int(headerLength))
        else { throw .bad("\(kind) frame without a complete header") }
        return try Self.object(headerBytes, kind)
    }

    private static func object(_ bytes: [UInt8], _ kind: Kind) throws(FrameError) -> JSONObject {
        guard case .object(let o)? = try? JSONParser.parse(bytes) else {
            throw .bad("\(kind) body is not a JSON object")
        }
        return o
    }

    static func isHash(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }
}
