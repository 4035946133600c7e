import GatewayModel
import GatewayProto
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@Suite struct FrameCodecTests {
    static let hash = String(repeating: "ab", count: 32)

    static let samples: [ClusterMessage] = [
        .hello(.init(nodeID: "dp-1", hostname: "host", pid: 42, softwareVersion: "0.1.0", configVersion: 7,
                     configHash: hash, maxFrame: 1 << 20)),
        .hello(.init(nodeID: "dp-2", hostname: "", pid: 1, softwareVersion: "x", configVersion: nil, configHash: nil,
                     maxFrame: 100)),
        .welcome(.init(controlPlaneID: "cp", heartbeatIntervalMS: 1000, maxFrame: 1 << 24)),
        .snapshot(.init(version: 9, hash: hash, size: 3, payload: ByteBuffer(bytes: [1, 2, 3, 0, 255]))),
        .snapshot(.init(version: 0, hash: hash, size: 0, payload: ByteBuffer())),
        .ack(.init(version: 9, hash: hash, applyMS: 1.5)),
        .nack(.init(version: 9, hash: hash, reason: "route r: invalid regex")),
        .nack(.init(version: 9, hash: hash, reason: "base mismatch", resync: true)),
        .delta(.init(version: 10, hash: hash, baseVersion: 9, baseHash: hash, size: 4,
                     payload: ByteBuffer(bytes: Array("{}\n\u{0}".utf8)))),
        .delta(.init(version: 11, hash: hash, baseVersion: 3, baseHash: hash, size: 0, payload: ByteBuffer())),
        .heartbeat(.init(version: 9, hash: hash)),
        .heartbeat(.init(version: nil, hash: nil)),
        .error(.init(code: ClusterMessage.ProtocolError.versionMismatch, message: "major 2 is not 1")),
        .notice(.init(code: ClusterMessage.Notice.snapshotTooLarge, message: "too big", version: 4)),
    ]

    static func frame(_ m: ClusterMessage) -> ByteBuffer {
        var b = ByteBuffer()
        ClusterFrameEncoder.write(m, into: &b)
        return b
    }

    @Test(arguments: FrameCodecTests.samples)
    func roundTrip(_ message: ClusterMessage) throws {
        var buffer = Self.frame(message)
        let decoder = ClusterFrameDecoder(maxFrameSize: 1 << 20)
        #expect(try decoder.next(&buffer) == message)
        #expect(buffer.readableBytes == 0)
    }

    @Test func decoderVerifierWithPartialReads() throws {
        let pairs = Self.samples.map { (Self.frame($0), [$0]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) {
            ClusterFrameDecoder(maxFrameSize: 1 << 20)
        }
    }

    @Test func byteByByteOnAChannel() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(ClusterFrameDecoder(maxFrameSize: 1 << 20)))
        var all = ByteBuffer()
        for m in Self.samples { ClusterFrameEncoder.write(m, into: &all) }
        while let byte = all.readSlice(length: 1) { try channel.writeInbound(byte) }
        var got: [ClusterMessage] = []
        while let m = try channel.readInbound(as: ClusterMessage.self) { got.append(m) }
        #expect(got == Self.samples)
        #expect(try channel.finish().isClean)
    }

    @Test func oversizedFrameIsRefusedBeforeBuffering() throws {
        let decoder = ClusterFrameDecoder(maxFrameSize: 1024)
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(2_000_000_000))  // claims 2 GB, only the header is here
        buffer.writeInteger(UInt8(3))
        #expect(throws: FrameError.tooLarge(2_000_000_000, limit: 1024)) { try decoder.next(&buffer) }
        var big = Self.frame(.snapshot(.init(version: 1, hash: Self.hash, size: 1, payload: ByteBuffer(repeating: 7, count: 2000))))
        #expect(throws: FrameError.self) { try decoder.next(&big) }
    }

    @Test(arguments: [
        ([0, 0, 0, 0] as [UInt8], "empty frame"),
        ([0, 0, 0, 1, 99], "unknown message type 99"),
        ([0, 0, 0, 3, 1, 0x7B, 0x7D], "hello needs protocol [major, minor]"),
        ([0, 0, 0, 3, 4, 0x5B, 0x5D], "ack body is not a JSON object"),
        ([0, 0, 0, 5, 3, 0, 0, 0, 9], "snapshot frame without a complete header"),
        ([0, 0, 0, 5, 9, 0, 0, 1, 0], "delta frame without a complete header"),
        ([0, 0, 0, 2, 6, 0xFF], "heartbeat body is not a JSON object"),
    ])
    func garbageIsABadMessage(bytes: [UInt8], message: String) throws {
        var buffer = ByteBuffer(bytes: bytes)
        #expect(throws: FrameError.bad(message)) { try ClusterFrameDecoder(maxFrameSize: 1024).next(&buffer) }
    }

    @Test func snapshotHeaderMustBeComplete() throws {
        var body = ByteBuffer()
        let header = JSONWriter.bytes(["version": 1, "hash": "nothex", "size": 1, "encoding": "zlib+json"])
        body.writeInteger(UInt32(header.count))
        body.writeBytes(header)
        #expect(throws: FrameError.self) { try ClusterMessage.decode(type: 3, body: body) }
    }

    @Test func deltaHeaderMustBeComplete() throws {
        for header in [
            JSONWriter.bytes(["version": 2, "hash": .string(Self.hash), "size": 0, "encoding": "json"]),
            JSONWriter.bytes(["version": 2, "hash": .string(Self.hash), "base_version": 1, "base_hash": "nothex",
                              "size": 0, "encoding": "json"]),
        ] {
            var body = ByteBuffer()
            body.writeInteger(UInt32(header.count))
            body.writeBytes(header)
            #expect(throws: FrameError.self) { try ClusterMessage.decode(type: 9, body: body) }
        }
    }

    @Test func abruptDisconnectMidFrameIsAnError() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(ClusterFrameDecoder(maxFrameSize: 1 << 20)))
        var frame = Self.frame(.ack(.init(version: 1, hash: Self.hash, applyMS: 1)))
        try channel.writeInbound(frame.readSlice(length: frame.readableBytes - 3)!)
        #expect(try channel.readInbound(as: ClusterMessage.self) == nil)
        #expect(throws: (any Error).self) { try channel.finish() }
    }

    @Test func unknownFieldsAreIgnored() throws {
        let body = ByteBuffer(bytes: JSONWriter.bytes(["version": 3, "hash": .string(Self.hash), "apply_ms": 2,
                                                       "from_the_future": ["x": 1]]))
        #expect(try ClusterMessage.decode(type: 4, body: body) == .ack(.init(version: 3, hash: Self.hash, applyMS: 2)))
    }
}
