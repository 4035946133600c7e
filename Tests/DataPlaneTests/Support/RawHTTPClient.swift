import Foundation
import NIOPosix
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A blocking HTTP/1.1 client over one TCP connection to 127.0.0.1, for tests that must control the connection
/// (reuse after an early answer, a request left waiting while another connection is served). The blocking calls run
/// on NIO's thread pool, never on the tests' cooperative threads. Used by one task at a time.
final class RawHTTPClient: @unchecked Sendable {
    struct Response: CustomStringConvertible {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: [UInt8]
        var text: String { String(decoding: self.body, as: UTF8.self) }
        func header(_ name: String) -> String? {
            self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
        var description: String { "HTTP \(self.status) \(self.headers) \(self.text.prefix(300))" }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private let fd: Int32
    private var pending: [UInt8] = []

    init(port: Int, timeoutSeconds: Int = 10) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw Failure(description: "connect to \(port) failed")
        }
        self.fd = fd
    }

    deinit { close(self.fd) }

    func send(_ text: String, body: [UInt8] = []) async throws {
        try await NIOThreadPool.singleton.runIfActive { try self.sendNow(text, body: body) }
    }

    private func sendNow(_ text: String, body: [UInt8]) throws {
        let bytes = Array(text.utf8) + body
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(self.fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw Failure(description: "write failed") }
            offset += n
        }
    }

    /// A request with `Host`, and `Content-Length` when there is a body.
    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = [],
                 close: Bool = false) async throws
    {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: test.local\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" { text += "Content-Length: \(body.count)\r\n" }
        if close { text += "Connection: close\r\n" }
        try await self.send(text + "\r\n", body: body)
    }

    /// Reads one response (Content-Length framed, or until the connection closes); skips `100 Continue`.
    func read() async throws -> Response {
        try await NIOThreadPool.singleton.runIfActive { try self.readNow() }
    }

    private func readNow() throws -> Response {
        while true {
            let head = try self.readHead()
            let lines = head.components(separatedBy: "\r\n")
            let parts = lines[0].split(separator: " ")
            guard parts.count >= 2, let status = Int(parts[1]) else {
                throw Failure(description: "bad status line: \(lines[0])")
            }
            var headers: [(String, String)] = []
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers.append((String(line[..<colon]),
                                line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
            if status == 100 { continue }
            let response = Response(status: status, headers: headers, body: [])
            if let length = response.header("content-length").flatMap(Int.init) {
                return Response(status: status, headers: headers, body: try self.readBytes(length))
            }
            return Response(status: status, headers: headers, body: try self.readToClose())
        }
    }

    /// Whether response bytes are waiting to be read (without blocking).
    func hasData() -> Bool {
        if !self.pending.isEmpty { return true }
        var byte: UInt8 = 0
        return recv(self.fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) > 0
    }

    /// Whether the server closed the connection (reads EOF within the timeout).
    func isClosedByPeer() async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive {
            var byte: UInt8 = 0
            return recv(self.fd, &byte, 1, 0) == 0
        }
    }

    private func fill() throws -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
        if n < 0 { throw Failure(description: "read failed or timed out (errno \(errno))") }
        if n == 0 { return false }
        self.pending += buffer[..<n]
        return true
    }

    private func readHead() throws -> String {
        let separator: [UInt8] = [13, 10, 13, 10]
        while true {
            if self.pending.count >= 4 {
                for i in 0...(self.pending.count - 4) where Array(self.pending[i..<(i + 4)]) == separator {
                    let head = String(decoding: self.pending[..<i], as: UTF8.self)
                    self.pending.removeFirst(i + 4)
                    return head
                }
            }
            guard try self.fill() else { throw Failure(description: "connection closed before a response head") }
        }
    }

    private func readBytes(_ count: Int) throws -> [UInt8] {
        while self.pending.count < count {
            guard try self.fill() else { throw Failure(description: "connection closed inside a body") }
        }
        let out = Array(self.pending[..<count])
        self.pending.removeFirst(count)
        return out
    }

    private func readToClose() throws -> [UInt8] {
        while try self.fill() {}
        defer { self.pending = [] }
        return self.pending
    }
}
