import Foundation
import GatewayModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `scripts/echo-upstream.py` on 127.0.0.1 with an OS-assigned port; killed on deinit.
final class EchoUpstream: @unchecked Sendable {
    let process: Process
    let port: Int
    let logPath: String

    private init(process: Process, port: Int, logPath: String) {
        self.process = process
        self.port = port
        self.logPath = logPath
    }

    /// - Parameters:
    ///   - tls: a PEM certificate and key path: the upstream serves HTTPS with them.
    ///   - script: the upstream's script (`scripts/scripted-upstream.py` answers with exact bytes).
    static func start(in dir: TempDir, tls: (cert: String, key: String)? = nil, timeout: Duration = .seconds(15),
                      script: String = "scripts/echo-upstream.py") async throws -> EchoUpstream
    {
        let script = try Paths.packageRoot().appendingPathComponent(script)
        let logPath = dir.path("upstream-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? log.close() }
        let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
            ?? "/usr/bin/python3"
        let tlsArguments = tls.map { ["--tls", $0.cert, $0.key] } ?? []
        let process = try Subprocess.spawn(URL(fileURLWithPath: python), ["-u", script.path, "0"] + tlsArguments,
                                           environment: Subprocess.environment(), workingDirectory: nil,
                                           output: log, error: log)
        let marker = "upstream listening on 127.0.0.1:"
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if let range = text.range(of: marker),
               let port = Int(text[range.upperBound...].prefix { $0.isNumber })
            {
                return EchoUpstream(process: process, port: port, logPath: logPath)
            }
            if !process.isRunning || clock.now > deadline {
                kill(process.processIdentifier, SIGKILL)
                throw AdminHTTP.Failure(description: "echo upstream did not start:\n\(text)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// `{"connections": C, "requests": R}` asked directly (this call opens one connection itself).
    func stats() async throws -> JSON {
        try await AdminHTTP(baseURL: "http://127.0.0.1:\(self.port)").expect(200, "GET", "/__stats")
    }

    deinit {
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
            self.process.waitUntilExit()
        }
    }
}

/// A port nothing listens on: bound by the OS, then closed.
func closedPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw AdminHTTP.Failure(description: "socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw AdminHTTP.Failure(description: "bind() failed") }
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw AdminHTTP.Failure(description: "getsockname() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A listening port that never completes a connection: its accept queue (backlog 0) is filled by the fillers, so
/// Linux drops further SYNs and a connect attempt times out. Close the returned descriptors when done.
func blackholePort() throws -> (port: Int, descriptors: [Int32]) {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard listener >= 0 else { throw AdminHTTP.Failure(description: "socket() failed") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(listener, $0, length) == 0 && listen(listener, 0) == 0 && getsockname(listener, $0, &length) == 0
        }
    }
    guard ok else {
        close(listener)
        throw AdminHTTP.Failure(description: "bind/listen failed")
    }
    var descriptors = [listener]
    for _ in 0..<3 {
        let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard filler >= 0 else { break }
        _ = fcntl(filler, F_SETFL, fcntl(filler, F_GETFL) | O_NONBLOCK)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, length) }
        }
        descriptors.append(filler)
    }
    return (Int(UInt16(bigEndian: address.sin_port)), descriptors)
}

/// A control plane, one data plane (one worker) and an echo upstream, all on loopback in one temp dir.
struct ProxyFixture {
    let dir: TempDir
    let cp: ControlPlaneProcess
    let dp: DataPlaneProcess
    let upstream: EchoUpstream

    static func start(controlPlane extra: [String] = [], dataPlane dpExtra: [String] = [],
                      upstreamTLS: (cert: String, key: String)? = nil, dir: TempDir? = nil) async throws -> ProxyFixture
    {
        let dir = try dir ?? TempDir()
        let upstream = try await EchoUpstream.start(in: dir, tls: upstreamTLS)
        let cp = try await ControlPlaneProcess.start(in: dir, extra: ClusterTests.heartbeat + extra)
        let dp = try await DataPlaneProcess.start(in: dir, cache: "dp", extra: dpExtra)
        return ProxyFixture(dir: dir, cp: cp, dp: dp, upstream: upstream)
    }

    /// Creates a service (fields as the admin API takes them) with one route; waits until the data plane has it.
    func addService(_ name: String, _ service: JSONObject, route: JSONObject) async throws {
        var body = service
        body["name"] = .string(name)
        try await self.cp.admin().expect(201, "POST", "/services", body: JSONWriter.string(.object(body)))
        var routeBody = route
        routeBody["name"] = .string(name + "-route")
        try await self.cp.admin().expect(201, "POST", "/services/\(name)/routes",
                                         body: JSONWriter.string(.object(routeBody)))
    }

    func sync() async throws {
        try await ClusterTests.converge(self.cp, [self.dp])
    }

    var upstreamURL: String { "http://127.0.0.1:\(self.upstream.port)" }

    func stop() async throws {
        try await self.dp.stop()
        try await self.cp.stop()
    }

    /// The data plane's resident set size and its peak so far (`VmRSS`, `VmHWM` of /proc/<pid>/status), in KiB.
    /// The peak is what shows a body buffered whole: freed large buffers go back to the OS, so VmRSS after the
    /// request alone could miss it.
    func dataPlaneMemory() throws -> (rss: Int, peak: Int) {
        let status = try String(contentsOfFile: "/proc/\(self.dp.pid)/status", encoding: .utf8)
        func field(_ name: String) throws -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
                  let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
            else { throw AdminHTTP.Failure(description: "no \(name) in /proc/\(self.dp.pid)/status") }
            return kib
        }
        return (try field("VmRSS"), try field("VmHWM"))
    }
}

/// One curl run against the proxy with full control of the request; the response's last head (after any
/// `100 Continue`) and body are kept.
struct ProxyCall: CustomStringConvertible {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: Data
    /// curl's `%{time_total}` in seconds.
    var seconds: Double
    /// Body bytes received (`%{size_download}`), also when the body was not kept.
    var size: Int

    var text: String { String(decoding: self.body, as: UTF8.self) }
    var json: JSON? { try? JSONParser.parse(self.text) }
    func header(_ name: String) -> String? {
        self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
    var description: String { "HTTP \(self.status) \(self.headers) \(self.text.prefix(400))" }

    /// The echo upstream's view of the request: header values by lowercased name.
    var echoedHeaders: [String: [String]] {
        var out: [String: [String]] = [:]
        for pair in self.json?["headers"]?.arrayValue ?? [] {
            guard let k = pair.arrayValue?.first?.stringValue, let v = pair.arrayValue?.last?.stringValue else { continue }
            out[k.lowercased(), default: []].append(v)
        }
        return out
    }

    static func curl(_ url: String, _ options: [String] = [], keepBody: Bool = true, timeout: Int = 20) async throws
        -> ProxyCall
    {
        let scratch = try TempDir()
        let headerFile = scratch.path("headers")
        let bodyFile = keepBody ? scratch.path("body") : "/dev/null"
        let args = ["-sS", "--noproxy", "*", "--max-time", String(timeout), "-D", headerFile, "-o", bodyFile,
                    "-w", "%{http_code} %{time_total} %{size_download}"] + options + [url]
        let result = try await Subprocess.run(AdminHTTP.curl, args, timeout: .seconds(timeout + 10))
        let parts = result.stdout.split(separator: " ")
        guard result.status == 0, parts.count == 3, let status = Int(parts[0]), let seconds = Double(parts[1]),
              let size = Int(parts[2])
        else {
            throw AdminHTTP.Failure(description: "curl \(url) \(options) failed: \(result)")
        }
        let raw = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
        let blocks = raw.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }
        var headers: [(String, String)] = []
        for line in (blocks.last ?? "").components(separatedBy: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let body = keepBody ? ((try? Data(contentsOf: URL(fileURLWithPath: bodyFile))) ?? Data()) : Data()
        return ProxyCall(status: status, headers: headers, body: body, seconds: seconds, size: size)
    }
}
