import Foundation
package import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One line per request, written by one background thread: the event loops only append a small
/// ``AccessLogEntry`` to a bounded queue (one uncontended lock); formatting and the `write(2)` happen on the
/// writer thread, in batches. When the queue is full the entry is dropped and counted
/// (`portcullis_dp_access_log_dropped_total`): a slow disk or a blocked stdout never stalls a request.
///
/// A `Service`: `run()` starts the writer and, at shutdown, stops it after writing what is queued (it is listed
/// before the proxy, so it stops after the proxy has drained).
package final class AccessLog: Service, Sendable {
    package enum Format: String, Sendable, CaseIterable {
        case json
        case logfmt
    }

    package enum Destination: Sendable, Equatable {
        case stdout
        /// Appended to (created 0644 when missing); rotate with `copytruncate`.
        case file(String)
    }

    /// What `--access-log` says: `off`, `stdout`, or a file path.
    package static func destination(_ text: String) -> Destination? {
        switch text {
        case "", "off": nil
        case "stdout", "-": .stdout
        default: .file(text)
        }
    }

    package let format: Format
    private let fd: Int32
    private let ownsFD: Bool
    private let capacity: Int
    private let queue = Mutex<[AccessLogEntry]>([])
    private let metrics: DataPlaneMetrics?
    private let logger: Logger?
    private let stopping = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    /// How long the writer sleeps when the queue is empty.
    static let interval: UInt32 = 20_000

    /// - Parameters:
    ///   - capacity: entries queued at most; more are dropped.
    /// - Throws: when the file cannot be opened for appending.
    package init(destination: Destination, format: Format, capacity: Int = 65536, metrics: DataPlaneMetrics?,
                 logger: Logger? = nil) throws
    {
        self.logger = logger
        switch destination {
        case .stdout:
            self.fd = STDOUT_FILENO
            self.ownsFD = false
        case .file(let path):
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw AccessLogError(message: "cannot open the access log \(path): \(String(cString: strerror(errno)))")
            }
            self.fd = fd
            self.ownsFD = true
        }
        self.format = format
        self.capacity = max(1, capacity)
        self.metrics = metrics
    }

    /// Queues one request's line. Never blocks; drops (and counts) when the queue is full.
    func submit(_ entry: AccessLogEntry) {
        let queued = self.queue.withLock { queue -> Bool in
            guard queue.count < self.capacity else { return false }
            queue.append(entry)
            return true
        }
        if !queued { self.metrics?.accessLogDropped.increment() }
    }

    package func run() async throws {
        let thread = Thread { [self] in self.writeUntilStopped() }
        thread.name = "portcullis-access-log"
        thread.start()
        try? await gracefulShutdown()
        self.stopping.store(true, ordering: .releasing)
        while !self.stopped.load(ordering: .acquiring) {
            try? await Task.sleep(for: .milliseconds(5))
        }
        if self.ownsFD { close(self.fd) }
    }

    private func writeUntilStopped() {
        var out: [UInt8] = []
        out.reserveCapacity(64 * 1024)
        // Two buffers change places: the queue gets the emptied batch back with its capacity, so a steady load
        // allocates nothing here or on the event loops.
        var batch: [AccessLogEntry] = []
        batch.reserveCapacity(4096)
        var failing = false
        while true {
            let stopping = self.stopping.load(ordering: .acquiring)
            batch.removeAll(keepingCapacity: true)
            self.queue.withLock { queue in swap(&batch, &queue) }
            if batch.isEmpty {
                if stopping { break }
                usleep(Self.interval)
                continue
            }
            out.removeAll(keepingCapacity: true)
            for entry in batch {
                switch self.format {
                case .json: entry.writeJSON(into: &out)
                case .logfmt: entry.writeLogfmt(into: &out)
                }
            }
            if let error = self.writeAll(out) {
                self.metrics?.accessLogDropped.increment(by: Int64(batch.count))
                // Once per failing spell, not per batch: the drop counter says how many.
                if !failing {
                    self.logger?.error("access log write failed; lines are dropped", metadata: ["error": "\(error)"])
                }
                failing = true
            } else {
                self.metrics?.accessLogLines.increment(by: Int64(batch.count))
                if failing { self.logger?.info("access log writes work again") }
                failing = false
            }
        }
        self.stopped.store(true, ordering: .releasing)
    }

    /// Writes everything; the error text when a write fails.
    private func writeAll(_ bytes: [UInt8]) -> String? {
        bytes.withUnsafeBytes { raw -> String? in
            guard let base = raw.baseAddress else { return nil }
            var offset = 0
            while offset < raw.count {
                let n = write(self.fd, base + offset, raw.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0, errno == EINTR {
                    continue
                } else if n < 0, errno == EAGAIN {
                    usleep(1000)
                } else {
                    return n == 0 ? "no progress" : String(cString: strerror(errno))
                }
            }
            return nil
        }
    }
}

package struct AccessLogError: Error, CustomStringConvertible {
    package var message: String
    package var description: String { self.message }
}

/// What one request leaves for its access log line; filled on the event loop without formatting anything.
struct AccessLogEntry: Sendable {
    /// Unix time (seconds) at the end of the request.
    var time: Double
    var requestID: RequestID
    var client: String
    var method: String
    /// The path asked for, without the query (it may carry secrets).
    var path: Substring
    var status: Int
    var route: String?
    var service: String?
    var consumer: String?
    /// header-cert-auth's outcome (its detailed reason).
    var auth: String?
    var totalNanos: Int64
    var upstreamNanos: Int64?
    /// `fast` (the fast lane) or `full` (the HTTP/1.1 codec path).
    var lane: StaticString
    /// `proxied`, `local` (answered by the gateway or a plugin) or `aborted`.
    var outcome: StaticString

    func writeJSON(into out: inout [UInt8]) {
        out.append(contentsOf: #"{"time":"#.utf8)
        Self.writeTime(self.time, into: &out)
        self.jsonField("request_id", self.requestID.string, into: &out)
        self.jsonField("client", self.client, into: &out)
        self.jsonField("method", self.method, into: &out)
        self.jsonField("path", self.path, into: &out)
        out.append(contentsOf: #","status":"#.utf8)
        out.append(contentsOf: String(self.status).utf8)
        self.jsonField("route", self.route, into: &out)
        self.jsonField("service", self.service, into: &out)
        self.jsonField("consumer", self.consumer, into: &out)
        self.jsonField("auth", self.auth, into: &out)
        out.append(contentsOf: #","duration_ms":"#.utf8)
        Self.writeMillis(self.totalNanos, into: &out)
        out.append(contentsOf: #","upstream_ms":"#.utf8)
        if let upstream = self.upstreamNanos {
            Self.writeMillis(upstream, into: &out)
        } else {
            out.append(contentsOf: "null".utf8)
        }
        self.jsonField("lane", "\(self.lane)", into: &out)
        self.jsonField("outcome", "\(self.outcome)", into: &out)
        out.append(contentsOf: "}\n".utf8)
    }

    func writeLogfmt(into out: inout [UInt8]) {
        out.append(contentsOf: "time=".utf8)
        Self.writeTime(self.time, into: &out)
        self.logfmtField("request_id", self.requestID.string, into: &out)
        self.logfmtField("client", self.client, into: &out)
        self.logfmtField("method", self.method, into: &out)
        self.logfmtField("path", self.path, into: &out)
        out.append(contentsOf: " status=".utf8)
        out.append(contentsOf: String(self.status).utf8)
        self.logfmtField("route", self.route, into: &out)
        self.logfmtField("service", self.service, into: &out)
        self.logfmtField("consumer", self.consumer, into: &out)
        self.logfmtField("auth", self.auth, into: &out)
        out.append(contentsOf: " duration_ms=".utf8)
        Self.writeMillis(self.totalNanos, into: &out)
        if let upstream = self.upstreamNanos {
            out.append(contentsOf: " upstream_ms=".utf8)
            Self.writeMillis(upstream, into: &out)
        }
        self.logfmtField("lane", "\(self.lane)", into: &out)
        self.logfmtField("outcome", "\(self.outcome)", into: &out)
        out.append(UInt8(ascii: "\n"))
    }

    private func jsonField<S: StringProtocol>(_ name: StaticString, _ value: S?, into out: inout [UInt8]) {
        out.append(contentsOf: #",""#.utf8)
        out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        out.append(contentsOf: #"":"#.utf8)
        guard let value else { return out.append(contentsOf: "null".utf8) }
        out.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0..<0x20, 0x7F:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `name=value`, quoted (with `"` and `\` escaped) when the value has a space, `=`, `"` or a control byte;
    /// absent values are left out.
    private func logfmtField<S: StringProtocol>(_ name: StaticString, _ value: S?, into out: inout [UInt8]) {
        guard let value else { return }
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        out.append(UInt8(ascii: "="))
        let quoted = value.isEmpty
            || value.utf8.contains { $0 <= 0x20 || $0 == 0x7F || $0 == 0x22 || $0 == 0x3D || $0 == 0x5C }
        guard quoted else { return out.append(contentsOf: value.utf8) }
        out.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0..<0x20, 0x7F: out.append(UInt8(ascii: "?"))
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Seconds with millisecond precision (`1764690000.123`).
    private static func writeTime(_ time: Double, into out: inout [UInt8]) {
        let millis = Int64((time * 1000).rounded())
        out.append(contentsOf: String(millis / 1000).utf8)
        out.append(UInt8(ascii: "."))
        let frac = String(millis % 1000)
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: 3 - frac.utf8.count))
        out.append(contentsOf: frac.utf8)
    }

    /// Milliseconds with microsecond precision (`1.234`).
    private static func writeMillis(_ nanos: Int64, into out: inout [UInt8]) {
        let micros = max(0, nanos) / 1000
        out.append(contentsOf: String(micros / 1000).utf8)
        out.append(UInt8(ascii: "."))
        let frac = String(micros % 1000)
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: 3 - frac.utf8.count))
        out.append(contentsOf: frac.utf8)
    }
}
