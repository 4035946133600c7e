import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A loopback HTTP server playing the OCSP responder and the CRL distribution point of ``RevocationPKI``.
///
/// OCSP answers come from the real OpenSSL responder: each POST body is handed to `openssl ocsp -index … -reqin …
/// -respout …` (run on NIO's thread pool, waited for, its temporary directory removed). OpenSSL 3.0's `openssl ocsp
/// -port` binds the wildcard address and takes no host, so the server mode is not used: this keeps every socket of
/// the tests on 127.0.0.1. Paths:
/// - `POST /ocsp/NAME`: signed by a delegated responder certificate (EKU OCSPSigning) issued by the intermediate;
/// - `POST /issuer/NAME`: signed by the intermediate itself, no certificates included;
/// - `POST /tampered/NAME`: as `/issuer/`, with the signature's last byte flipped;
/// - `POST /rogue/NAME`: signed by a self-signed responder nobody trusts;
/// - `GET /crl/NAME`: a CRL set with ``setCRL(_:_:)``; `GET /big.crl`: 2 MiB of zeros.
/// Every request is counted by path (``count(_:)``).
package final class RevocationServer: Sendable {
    /// What the responder needs, as file contents (written to a fresh directory per request).
    package struct Responder: Sendable {
        package var index: String
        package var caPEM: String
        package var caKey: String
        package var signerPEM: String
        package var signerKey: String
        package var roguePEM: String
        package var rogueKey: String
    }

    private struct State {
        var responder: Responder?
        var crls: [String: [UInt8]] = [:]
        var counts: [String: Int] = [:]
    }

    package let port: Int
    private let channel: any Channel
    private let state: Mutex<State>

    private init(port: Int, channel: any Channel) {
        self.port = port
        self.channel = channel
        self.state = Mutex(State())
    }

    package static func start() async throws -> RevocationServer {
        let holder = StateBox()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(server: holder))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        guard let port = channel.localAddress?.port else {
            try? await channel.close()
            throw OpenSSLCLI.Failure(description: "revocation server has no port")
        }
        let server = RevocationServer(port: port, channel: channel)
        holder.server.withLock { $0 = server }
        return server
    }

    package func setResponder(_ responder: Responder) { self.state.withLock { $0.responder = responder } }
    package func setCRL(_ name: String, _ bytes: [UInt8]) { self.state.withLock { $0.crls[name] = bytes } }
    /// Requests received for `path` (e.g. `/ocsp/good`).
    package func count(_ path: String) -> Int { self.state.withLock { $0.counts[path] ?? 0 } }

    package func close() async { try? await self.channel.close() }

    fileprivate func answer(method: HTTPMethod, path: String, body: [UInt8], on loop: any EventLoop)
        -> EventLoopFuture<(Int, [UInt8])>
    {
        let (responder, crl) = self.state.withLock { state -> (Responder?, [UInt8]?) in
            state.counts[path, default: 0] += 1
            return (state.responder, state.crls[String(path.dropFirst("/crl/".count))])
        }
        if method == .GET, path == "/big.crl" {
            return loop.makeSucceededFuture((200, [UInt8](repeating: 0, count: 2 << 20)))
        }
        if method == .GET, path.hasPrefix("/crl/") {
            return loop.makeSucceededFuture(crl.map { (200, $0) } ?? (404, []))
        }
        let parts = path.split(separator: "/")
        guard method == .POST, parts.count == 2, let responder else { return loop.makeSucceededFuture((404, [])) }
        let mode = String(parts[0])
        guard ["ocsp", "issuer", "tampered", "rogue"].contains(mode) else { return loop.makeSucceededFuture((404, [])) }
        return NIOThreadPool.singleton.runIfActive(eventLoop: loop) {
            var der = try Self.respond(body, responder: responder, mode: mode)
            if mode == "tampered", let last = der.indices.last { der[last] ^= 0x01 }
            return (200, der)
        }.flatMapErrorThrowing { _ in (500, []) }
    }

    /// Runs the OpenSSL responder on one request.
    private static func respond(_ request: [UInt8], responder: Responder, mode: String) throws -> [UInt8] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ocsp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func file(_ name: String, _ text: String) throws -> String {
            let path = dir.appendingPathComponent(name).path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }
        let requestPath = dir.appendingPathComponent("req.der").path
        try Data(request).write(to: URL(fileURLWithPath: requestPath))
        let responsePath = dir.appendingPathComponent("resp.der").path
        var args = ["ocsp", "-index", try file("index.txt", responder.index),
                    "-CA", try file("ca.pem", responder.caPEM), "-reqin", requestPath, "-respout", responsePath,
                    "-nmin", "60"]
        switch mode {
        case "ocsp":
            args += ["-rsigner", try file("r.pem", responder.signerPEM),
                     "-rkey", try file("r.key", responder.signerKey)]
        case "rogue":
            args += ["-rsigner", try file("r.pem", responder.roguePEM), "-rkey", try file("r.key", responder.rogueKey)]
        default:  // issuer, tampered: the CA signs, its certificate is not included
            args += ["-rsigner", try file("r.pem", responder.caPEM), "-rkey", try file("r.key", responder.caKey),
                     "-resp_no_certs"]
        }
        try OpenSSLCLI.run(args)
        return Array(try Data(contentsOf: URL(fileURLWithPath: responsePath)))
    }

    /// Lets the handler reach the server created after the bootstrap.
    private final class StateBox: Sendable {
        let server = Mutex<RevocationServer?>(nil)
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let server: StateBox
        var head: HTTPRequestHead?
        var body: [UInt8] = []

        init(server: StateBox) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                self.body = []
            case .body(var buffer):
                self.body += buffer.readBytes(length: buffer.readableBytes) ?? []
            case .end:
                guard let head = self.head, let server = self.server.server.withLock({ $0 }) else { return }
                let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                let keepAlive = head.isKeepAlive
                let answer = server.answer(method: head.method, path: path, body: self.body, on: context.eventLoop)
                answer.whenSuccess { status, bytes in
                    let context = bound.value
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Length", value: "\(bytes.count)")
                    headers.add(name: "Content-Type", value: path.hasPrefix("/crl") ? "application/pkix-crl"
                        : "application/ocsp-response")
                    if !keepAlive { headers.add(name: "Connection", value: "close") }
                    let responseHead = HTTPResponseHead(
                        version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)
                    context.write(NIOAny(HTTPServerResponsePart.head(responseHead)), promise: nil)
                    context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: bytes)))),
                                  promise: nil)
                    context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
                    if !keepAlive { context.close(promise: nil) }
                }
            }
        }
    }
}

/// A loopback listener that accepts connections and reads requests but never answers (a hung responder).
package final class SilentServer: Sendable {
    package let port: Int
    private let channel: any Channel

    private init(port: Int, channel: any Channel) {
        self.port = port
        self.channel = channel
    }

    package static func start() async throws -> SilentServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in channel.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).get()
        guard let port = channel.localAddress?.port else {
            try? await channel.close()
            throw OpenSSLCLI.Failure(description: "silent server has no port")
        }
        return SilentServer(port: port, channel: channel)
    }

    package func close() async { try? await self.channel.close() }
}

/// A loopback port with nothing listening: bound, then closed (a responder that is down).
package enum ClosedPort {
    package static func reserve() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port
        try await channel.close()
        guard let port else { throw OpenSSLCLI.Failure(description: "no port") }
        return port
    }
}
