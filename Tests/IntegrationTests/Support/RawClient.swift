import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain TCP connection to 127.0.0.1 for what curl cannot do: stall in the middle of a head or a body, stay idle,
/// see exactly when the server closes. Non-blocking; reads poll with short sleeps, always bounded.
final class RawClient {
    private let fd: Int32

    init(port: Int) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw AdminHTTP.Failure(description: "socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw AdminHTTP.Failure(description: "connect to 127.0.0.1:\(port) failed: errno \(errno)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.fd = fd
    }

    /// Sends all of `text` (bounded: gives up after 5 s of a full send buffer).
    func write(_ text: String) async throws {
        let bytes = Array(text.utf8)
        var offset = 0
        let deadline = ContinuousClock.now + .seconds(5)
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(self.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                offset += n
            } else if errno == EAGAIN || errno == EWOULDBLOCK, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            } else {
                throw AdminHTTP.Failure(description: "send failed: errno \(errno)")
            }
        }
    }

    /// Reads until what was read contains `marker`, the connection ends or `timeout` passes; returns what was read.
    func read(until marker: String, timeout: Duration) async throws -> String {
        let clock = ContinuousClock()
        let start = clock.now
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while clock.now - start < timeout {
            let n = buffer.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                data += buffer[0..<n]
                if String(decoding: data, as: UTF8.self).contains(marker) { break }
                continue
            }
            if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads until the server closes (or resets) the connection or `timeout` passes.
    /// - Returns: what was read, whether the connection ended, and the seconds it took.
    func readUntilClose(timeout: Duration) async throws -> (text: String, closed: Bool, seconds: Double) {
        let clock = ContinuousClock()
        let start = clock.now
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while clock.now - start < timeout {
            let n = buffer.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                data += buffer[0..<n]
                continue
            }
            if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                let elapsed = clock.now - start
                return (String(decoding: data, as: UTF8.self), true, Self.seconds(elapsed))
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return (String(decoding: data, as: UTF8.self), false, Self.seconds(clock.now - start))
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Closes the sending side only (the client is done sending, still reading).
    func shutdownWrite() {
        _ = shutdown(self.fd, Int32(SHUT_WR))
    }

    deinit { close(self.fd) }
}
