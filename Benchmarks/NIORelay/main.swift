// The cheapest HTTP/1.1 relay SwiftNIO allows, as a reference point for Benchmarks/proxy: what any NIO-based proxy
// at best costs per request on this machine, next to nginx and HAProxy. It is NOT a proxy to use: one event loop,
// requests without a body, responses framed by Content-Length only, no pipelining, no routing, no header rewriting
// beyond one added `Via`, no timeouts. Bytes are relayed as ByteBuffers through one handler per side (no NIOHTTP1),
// with upstream keep-alive connections pooled on the loop.
//
//   nio-relay LISTEN_PORT UPSTREAM_PORT     (both on 127.0.0.1; prints "listening on PORT" once bound)
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

let args = CommandLine.arguments
guard args.count == 3, let listenPort = Int(args[1]), let upstreamPort = Int(args[2]) else {
    print("usage: nio-relay LISTEN_PORT UPSTREAM_PORT")
    exit(2)
}

/// The index just past the first "\r\n\r\n" in `buffer`'s readable bytes, relative to its reader index.
func headEnd(_ buffer: ByteBuffer) -> Int? {
    buffer.withUnsafeReadableBytes { raw -> Int? in
        guard raw.count >= 4 else { return nil }
        for i in 3..<raw.count where raw[i] == 10 && raw[i - 1] == 13 && raw[i - 2] == 10 && raw[i - 3] == 13 {
            return i + 1
        }
        return nil
    }
}

/// The Content-Length value in a response head (case-insensitive name), or 0.
func contentLength(_ head: UnsafeRawBufferPointer) -> Int {
    let name = Array("content-length:".utf8)
    var i = 0
    while i + name.count < head.count {
        var match = true
        for j in 0..<name.count {
            var b = head[i + j]
            if b >= 65 && b <= 90 { b |= 0x20 }
            if b != name[j] { match = false; break }
        }
        if match {
            var k = i + name.count
            var value = 0
            while k < head.count, head[k] == 32 { k += 1 }
            while k < head.count, head[k] >= 48, head[k] <= 57 { value = value * 10 + Int(head[k] - 48); k += 1 }
            return value
        }
        i += 1
    }
    return 0
}

final class Pool {
    var idle: [UpstreamSide] = []
    let loop: any EventLoop
    let port: Int
    init(loop: any EventLoop, port: Int) {
        self.loop = loop
        self.port = port
    }

    func lease(_ done: @escaping (UpstreamSide?) -> Void) {
        if let side = self.idle.popLast() { return done(side) }
        ClientBootstrap(group: self.loop)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(UpstreamSide()) }
            }
            .connect(host: "127.0.0.1", port: self.port)
            .assumeIsolated().whenComplete { result in
                guard case .success(let channel) = result,
                      let side = try? channel.pipeline.syncOperations.handler(type: UpstreamSide.self)
                else { return done(nil) }
                done(side)
            }
    }
}

final class UpstreamSide: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var context: ChannelHandlerContext?
    weak var client: ClientSide?
    var pending: ByteBuffer?
    var bodyLeft = -1

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func send(_ request: ByteBuffer) { self.context?.writeAndFlush(NIOAny(request), promise: nil) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = Self.unwrapInboundIn(data)
        guard let client = self.client else { return }
        if self.bodyLeft < 0 {
            if var pending = self.pending {
                pending.writeBuffer(&buffer)
                self.pending = pending
            } else {
                self.pending = buffer
            }
            guard var head = self.pending, let end = headEnd(head) else { return }
            let length = head.withUnsafeReadableBytes { contentLength(UnsafeRawBufferPointer(rebasing: $0[..<end])) }
            guard var headPart = head.readSlice(length: end - 2) else { return }
            self.pending = nil
            // The head with `Via` added before its blank line, then whatever body bytes came with it.
            var out = context.channel.allocator.buffer(capacity: head.readableBytes + 32)
            out.writeBuffer(&headPart)
            out.writeStaticString("Via: 1.1 nio-relay\r\n\r\n")
            head.moveReaderIndex(forwardBy: 2)
            self.bodyLeft = length - head.readableBytes
            out.writeBuffer(&head)
            client.respond(out, done: self.bodyLeft <= 0)
        } else {
            self.bodyLeft -= buffer.readableBytes
            client.respond(buffer, done: self.bodyLeft <= 0)
        }
        if self.bodyLeft <= 0 {
            self.bodyLeft = -1
            self.client = nil
            client.pool.idle.append(self)
        }
    }
}

final class ClientSide: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let pool: Pool
    var context: ChannelHandlerContext?
    var pending: ByteBuffer?

    init(pool: Pool) { self.pool = pool }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func respond(_ bytes: ByteBuffer, done: Bool) {
        guard let context = self.context else { return }
        context.write(NIOAny(bytes), promise: nil)
        if done { context.flush() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = Self.unwrapInboundIn(data)
        if var pending = self.pending {
            pending.writeBuffer(&buffer)
            self.pending = pending
        } else {
            self.pending = buffer
        }
        guard var head = self.pending, let end = headEnd(head), var headPart = head.readSlice(length: end - 2)
        else { return }
        self.pending = nil
        var request = context.channel.allocator.buffer(capacity: end + 64)
        request.writeBuffer(&headPart)
        request.writeStaticString("X-Forwarded-For: 127.0.0.1\r\nVia: 1.1 nio-relay\r\n\r\n")
        self.pool.lease { side in
            guard let side else { return context.close(promise: nil) }
            side.client = self
            side.send(request)
        }
    }
}

let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let loop = group.next()
let pool = try loop.submit { NIOLoopBound(Pool(loop: loop, port: upstreamPort), eventLoop: loop) }.wait()
let server = try ServerBootstrap(group: group)
    .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ClientSide(pool: pool.value))
        }
    }
    .bind(host: "127.0.0.1", port: listenPort).wait()
let line = Array("listening on \(server.localAddress?.port ?? 0)\n".utf8)
_ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
try server.closeFuture.wait()
