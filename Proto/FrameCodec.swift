package import NIOCore

/// Splits the byte stream into ``ClusterMessage``s: `length (u32, big endian) | type (u8) | body`.
///
/// A length above `maxFrameSize` is refused before anything is buffered, so a peer cannot make the receiver
/// allocate more than the limit.
package struct ClusterFrameDecoder: ByteToMessageDecoder {
    package typealias InboundOut = ClusterMessage

    package let maxFrameSize: Int

    package init(maxFrameSize: Int) {
        self.maxFrameSize = maxFrameSize
    }

    package mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let message = try self.next(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(message))
        return .continue
    }

    /// Reads one message if the buffer holds a whole frame.
    package func next(_ buffer: inout ByteBuffer) throws(FrameError) -> ClusterMessage? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        let size = Int(length)
        guard size >= 1 else { throw .bad("empty frame") }
        guard size <= self.maxFrameSize else { throw .tooLarge(size, limit: self.maxFrameSize) }
        guard buffer.readableBytes >= 4 + size else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        guard let type = buffer.readInteger(as: UInt8.self), let body = buffer.readSlice(length: size - 1) else {
            throw .bad("truncated frame")
        }
        return try ClusterMessage.decode(type: type, body: body)
    }

    package mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool)
        throws -> DecodingState
    {
        while try self.decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 { throw FrameError.bad("connection closed in the middle of a frame") }
        return .needMoreData
    }
}

/// Writes ``ClusterMessage``s as frames.
package struct ClusterFrameEncoder: MessageToByteEncoder {
    package typealias OutboundIn = ClusterMessage

    package init() {}

    package func encode(data: ClusterMessage, out: inout ByteBuffer) throws {
        Self.write(data, into: &out)
    }

    package static func write(_ message: ClusterMessage, into out: inout ByteBuffer) {
        let start = out.writerIndex
        out.writeInteger(UInt32(0))
        out.writeInteger(message.kind.rawValue)
        message.writeBody(into: &out)
        out.setInteger(UInt32(out.writerIndex - start - 4), at: start)
    }
}

/// The cluster protocol on a channel: frame decoder and encoder, wrapped for async use.
package enum ClusterChannel {
    /// Must be called on the channel's event loop (from a bootstrap's channel initializer).
    package static func configure(
        _ channel: any Channel, maxFrame: Int,
        configuration: NIOAsyncChannel<ClusterMessage, ClusterMessage>.Configuration = .init()
    ) throws -> NIOAsyncChannel<ClusterMessage, ClusterMessage> {
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ClusterFrameDecoder(maxFrameSize: maxFrame)))
        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(ClusterFrameEncoder()))
        return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: configuration)
    }
}
