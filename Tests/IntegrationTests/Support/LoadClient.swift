import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A bounded load generator for when wrk is not there: keep-alive HTTP/1.1 GETs on a few connections (one
/// blocking thread each, 5 s socket timeouts) until a deadline. A request fails when it gets no complete answer
/// or an answer other than 200; a failed connection is reopened.
enum LoadClient {
    struct Figures: Sendable, CustomStringConvertible {
        var sent = 0
        var ok = 0
        var failed = 0
        /// The first few failures, for the test's message.
        var failures: [String] = []

        mutating func add(_ other: Figures) {
            self.sent += other.sent
            self.ok += other.ok
            self.failed += other.failed
            self.failures += other.failures.prefix(max(0, 10 - self.failures.count))
        }

        var description: String {
            "\(self.sent) requests, \(self.ok) answered 200, \(self.failed) failed"
                + (self.failures.isEmpty ? "" : " (first: \(self.failures.joined(separator: "; ")))")
        }
    }

    /// Ends a run before its deadline.
    final class Stop: Sendable {
        private let flag = Atomic<Bool>(false)
        func set() { self.flag.store(true, ordering: .releasing) }
        var isSet: Bool { self.flag.load(ordering: .acquiring) }
    }

    /// The pause between two requests of a connection: in `make test` the load is paced (about 50 requests a
    /// second per connection), so that it checks correctness without starving the tests that run beside it;
    /// `make soak` runs flat out.
    static var pace: Duration { Soak.enabled ? .zero : .milliseconds(20) }

    /// Runs `connections` connections to each port in `ports` for `duration` (or until `stop`), each pausing
    /// ``pace`` between requests; returns the totals.
    static func run(ports: [Int], path: String, connections: Int, duration: Duration, stop: Stop? = nil) async
        -> Figures
    {
        let pauseMicroseconds = useconds_t(Self.pace.components.seconds * 1_000_000
            + Self.pace.components.attoseconds / 1_000_000_000_000)
        let deadline = ContinuousClock.now + duration
        let total = Mutex(Figures())
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let group = DispatchGroup()
            for port in ports {
                for _ in 0..<connections {
                    group.enter()
                    Thread.detachNewThread {
                        let figures = Self.connectionLoop(port: port, path: path, deadline: deadline, stop: stop,
                                                          pause: pauseMicroseconds)
                        total.withLock { $0.add(figures) }
                        group.leave()
                    }
                }
            }
            group.notify(queue: .global()) { done.resume() }
        }
        return total.withLock { $0 }
    }

    static func connectionLoop(port: Int, path: String, deadline: ContinuousClock.Instant, stop: Stop?,
                               pause: useconds_t) -> Figures
    {
        var figures = Figures()
        var fd: Int32 = -1
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUser-Agent: portcullis-load\r\n\r\n".utf8)
        func fail(_ why: String) {
            figures.failed += 1
            if figures.failures.count < 10 { figures.failures.append("port \(port): \(why)") }
            if fd >= 0 { close(fd) }
            fd = -1
        }
        while ContinuousClock.now < deadline, stop?.isSet != true {
            if fd < 0 {
                fd = Self.connect(port)
                if fd < 0 {
                    figures.sent += 1
                    fail("connect: errno \(errno)")
                    usleep(10_000)
                    continue
                }
            }
            figures.sent += 1
            guard Self.writeAll(fd, request) else {
                fail("send: errno \(errno)")
                continue
            }
            switch Self.readResponse(fd) {
            case .failure(let why):
                fail(why.text)
            case .success(let (status, keepAlive)):
                if status == 200 {
                    figures.ok += 1
                } else {
                    figures.failed += 1
                    if figures.failures.count < 10 { figures.failures.append("port \(port): HTTP \(status)") }
                }
                if !keepAlive {
                    close(fd)
                    fd = -1
                }
            }
            if pause > 0 { usleep(pause) }
        }
        if fd >= 0 { close(fd) }
        return figures
    }

    struct ReadFailure: Error {
        var text: String
    }

    static func connect(_ port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let saved = errno
            close(fd)
            errno = saved
            return -1
        }
        return fd
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 {
                if n < 0, errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    /// One response with a Content-Length body: its status and whether the connection stays open.
    static func readResponse(_ fd: Int32) -> Result<(Int, Bool), ReadFailure> {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                return .failure(ReadFailure(text: n == 0 ? "closed before an answer" : "recv: errno \(errno)"))
            }
            data += buffer[0..<n]
            if data.count >= 4 {
                for i in max(0, data.count - n - 3)...(data.count - 4) where Array(data[i..<(i + 4)]) == separator {
                    headEnd = i + 4
                    break
                }
            }
            if data.count > 65536 { return .failure(ReadFailure(text: "a head larger than 64 KiB")) }
        }
        guard let end = headEnd else { return .failure(ReadFailure(text: "no head")) }
        let head = String(decoding: data[0..<end], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1.1 "),
            let status = Int(statusLine.dropFirst(9).prefix(3))
        else { return .failure(ReadFailure(text: "bad status line: \(head.prefix(80))")) }
        var length: Int?
        var keepAlive = true
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = parts[0].lowercased()
            let value = parts[1].trimmingCharacters(in: .whitespaces).lowercased()
            if name == "content-length" { length = Int(value) }
            if name == "connection", value.contains("close") { keepAlive = false }
        }
        guard let length else { return .failure(ReadFailure(text: "HTTP \(status) without Content-Length")) }
        var have = data.count - end
        while have < length {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, length - have), 0) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return .failure(ReadFailure(text: "body cut short")) }
            have += n
        }
        return .success((status, keepAlive))
    }
}

/// wrk (`make soak` installs it), its summary read into ``LoadClient/Figures``: requests answered, non-2xx/3xx
/// answers and socket errors (connect, read, write, timeout) are the failures.
enum Wrk {
    static let path = "/usr/bin/wrk"
    static var available: Bool { FileManager.default.isExecutableFile(atPath: self.path) }

    static func run(url: String, connections: Int, duration: Duration) async throws -> LoadClient.Figures {
        let seconds = max(1, Int(duration.components.seconds))
        let result = try await Subprocess.run(
            URL(fileURLWithPath: self.path),
            ["-t", "1", "-c", "\(connections)", "-d", "\(seconds)s", "--timeout", "5s", url],
            timeout: duration + .seconds(30))
        guard result.exitedNormally, result.status == 0 else {
            throw AdminHTTP.Failure(description: "wrk failed: \(result)")
        }
        var answered = 0
        var non2xx = 0
        var socketErrors = 0
        for line in result.stdout.split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.contains(" requests in "), let n = Int(text.prefix { $0.isNumber }) { answered = n }
            if text.hasPrefix("Non-2xx or 3xx responses:"), let n = Int(text.split(separator: ":").last?
                .trimmingCharacters(in: .whitespaces) ?? "") { non2xx = n }
            if text.hasPrefix("Socket errors:") {
                // "Socket errors: connect 0, read 0, write 0, timeout 0"
                socketErrors = text.dropFirst("Socket errors:".count).split(separator: ",").compactMap {
                    Int($0.split(separator: " ").last ?? "")
                }.reduce(0, +)
            }
        }
        var figures = LoadClient.Figures()
        figures.sent = answered + socketErrors
        figures.ok = answered - non2xx
        figures.failed = non2xx + socketErrors
        if figures.failed > 0 { figures.failures = ["wrk \(url): \(result.stdout)"] }
        guard answered > 0 else { throw AdminHTTP.Failure(description: "wrk reported no request: \(result.stdout)") }
        return figures
    }
}
