package import GatewayModel
package import NIOCore

/// The cluster protocol's version: a different major is refused on both sides, minors are compatible.
package struct ProtocolVersion: Sendable, Equatable, CustomStringConvertible {
    package var major: Int
    package var minor: Int

    package static let current = ProtocolVersion(major: 2, minor: 0)

    package init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    package var description: String { "\(self.major).\(self.minor)" }

    var json: JSON { .array([.int(Int64(self.major)), .int(Int64(self.minor))]) }

    init?(json: JSON?) {
        guard let a = json?.arrayValue, a.count == 2, let major = a[0].intValue, let minor = a[1].intValue,
            major >= 0, minor >= 0
        else { return nil }
        self.init(major: Int(major), minor: Int(minor))
    }
}

/// One message of the cluster protocol (Proto/PROTOCOL.md).
package enum ClusterMessage: Sendable, Equatable {
    case hello(Hello)
    case welcome(Welcome)
    case snapshot(SnapshotFrame)
    case ack(Ack)
    case nack(Nack)
    case heartbeat(Heartbeat)
    case error(ProtocolError)
    case notice(Notice)
    case delta(DeltaFrame)

    /// The frame type byte.
    package enum Kind: UInt8, Sendable {
        case hello = 1
        case welcome = 2
        case snapshot = 3
        case ack = 4
        case nack = 5
        case heartbeat = 6
        case error = 7
        case notice = 8
        case delta = 9
    }

    package var kind: Kind {
        switch self {
        case .hello: return .hello
        case .welcome: return .welcome
        case .snapshot: return .snapshot
        case .ack: return .ack
        case .nack: return .nack
        case .heartbeat: return .heartbeat
        case .error: return .error
        case .notice: return .notice
        case .delta: return .delta
        }
    }

    /// DP → CP, the first frame: who the data plane is and what it runs.
    package struct Hello: Sendable, Equatable {
        package var protocolVersion: ProtocolVersion
        package var nodeID: String
        package var hostname: String
        package var pid: Int
        package var softwareVersion: String
        /// The configuration the data plane serves now (from its cache), if any.
        package var configVersion: Int64?
        package var configHash: String?
        /// Largest frame the data plane accepts.
        package var maxFrame: Int

        package init(protocolVersion: ProtocolVersion = .current, nodeID: String, hostname: String, pid: Int,
                     softwareVersion: String, configVersion: Int64?, configHash: String?, maxFrame: Int)
        {
            self.protocolVersion = protocolVersion
            self.nodeID = nodeID
            self.hostname = hostname
            self.pid = pid
            self.softwareVersion = softwareVersion
            self.configVersion = configVersion
            self.configHash = configHash
            self.maxFrame = maxFrame
        }
    }

    /// CP → DP, the answer to an acceptable hello.
    package struct Welcome: Sendable, Equatable {
        package var protocolVersion: ProtocolVersion
        package var controlPlaneID: String
        package var heartbeatIntervalMS: Int
        package var maxFrame: Int

        package init(protocolVersion: ProtocolVersion = .current, controlPlaneID: String, heartbeatIntervalMS: Int,
                     maxFrame: Int)
        {
            self.protocolVersion = protocolVersion
            self.controlPlaneID = controlPlaneID
            self.heartbeatIntervalMS = heartbeatIntervalMS
            self.maxFrame = maxFrame
        }
    }

    /// CP → DP: a whole configuration. `payload` is the zlib-compressed canonical JSON whose SHA-256 is `hash`.
    package struct SnapshotFrame: Sendable, Equatable {
        package var version: Int64
        package var hash: String
        /// Bytes of the payload once decompressed.
        package var size: Int
        package var encoding: String
        package var payload: ByteBuffer

        package static let encodingZlibJSON = "zlib+json"

        package init(version: Int64, hash: String, size: Int, encoding: String = Self.encodingZlibJSON,
                     payload: ByteBuffer)
        {
            self.version = version
            self.hash = hash
            self.size = size
            self.encoding = encoding
            self.payload = payload
        }
    }

    /// CP → DP: the changes from the configuration `baseHash` (which the data plane serves) to `hash`. `payload` is
    /// a ``ConfigDelta`` encoding of `size` bytes.
    package struct DeltaFrame: Sendable, Equatable {
        package var version: Int64
        package var hash: String
        package var baseVersion: Int64
        package var baseHash: String
        package var size: Int
        package var encoding: String
        package var payload: ByteBuffer

        package static let encodingJSON = "json"

        package init(version: Int64, hash: String, baseVersion: Int64, baseHash: String, size: Int,
                     encoding: String = Self.encodingJSON, payload: ByteBuffer)
        {
            self.version = version
            self.hash = hash
            self.baseVersion = baseVersion
            self.baseHash = baseHash
            self.size = size
            self.encoding = encoding
            self.payload = payload
        }
    }

    /// DP → CP: a snapshot was applied and is being served.
    package struct Ack: Sendable, Equatable {
        package var version: Int64
        package var hash: String
        /// Milliseconds from receipt to serving (verify, decode, compile, swap, cache).
        package var applyMS: Double

        package init(version: Int64, hash: String, applyMS: Double) {
            self.version = version
            self.hash = hash
            self.applyMS = applyMS
        }
    }

    /// DP → CP: a snapshot was rejected; the data plane keeps serving what it had.
    package struct Nack: Sendable, Equatable {
        package var version: Int64
        package var hash: String
        package var reason: String
        /// The data plane asks for a full snapshot (a delta did not fit what it serves).
        package var resync: Bool

        package init(version: Int64, hash: String, reason: String, resync: Bool = false) {
            self.version = version
            self.hash = hash
            self.reason = reason
            self.resync = resync
        }
    }

    /// Both ways, every heartbeat interval: the sender's current version and hash (applied on a DP, newest on
    /// the CP).
    package struct Heartbeat: Sendable, Equatable {
        package var version: Int64?
        package var hash: String?

        package init(version: Int64?, hash: String?) {
            self.version = version
            self.hash = hash
        }
    }

    /// CP → DP: something to report that does not end the connection.
    package struct Notice: Sendable, Equatable {
        package var code: String
        package var message: String
        package var version: Int64?

        package init(code: String, message: String, version: Int64?) {
            self.code = code
            self.message = message
            self.version = version
        }

        package static let snapshotTooLarge = "snapshot_too_large"
    }

    /// Both ways: a fatal problem; the sender closes the connection after it.
    package struct ProtocolError: Error, Sendable, Equatable {
        package var code: String
        package var message: String

        package init(code: String, message: String) {
            self.code = code
            self.message = message
        }

        package static let versionMismatch = "protocol_version"
        package static let frameTooLarge = "frame_too_large"
        package static let badMessage = "bad_message"
        package static let unexpected = "unexpected_message"
        package static let timeout = "timeout"
    }
}
