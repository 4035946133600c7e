import Foundation
import GatewayModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `portcullis` process started by a test: stderr to a log file, stopped by PID (SIGTERM with ``stop()``,
/// SIGKILL with ``crash()``); deinit kills it if a test forgot (or failed before stopping it).
class ManagedProcess: @unchecked Sendable {
    struct StartFailure: Error, CustomStringConvertible {
        var description: String
    }

    let dir: TempDir
    let process: Process
    let logPath: String
    let name: String
    var pid: Int32 { self.process.processIdentifier }
    var log: String { (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? "" }

    init(dir: TempDir, process: Process, logPath: String, name: String) {
        self.dir = dir
        self.process = process
        self.logPath = logPath
        self.name = name
    }

    /// Starts `portcullis SUBCOMMAND ARGUMENTS` and waits up to `timeout` until the log has a line
    /// `<marker>HOST:PORT` for every marker; returns the process, its log path and the port of each marker.
    static func launch(
        _ subcommand: String, in dir: TempDir, arguments: [String], markers: [String],
        environment: [String: String] = Subprocess.environment(), workingDirectory: URL? = nil,
        timeout: Duration = .seconds(30)
    ) async throws -> (Process, String, [String: Int]) {
        let binary = try Paths.binary()
        let logPath = dir.path("\(subcommand)-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? log.close() }
        let process = try Subprocess.spawn(binary, [subcommand] + arguments, environment: environment,
                                           workingDirectory: workingDirectory, output: log, error: log)

        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            var ports: [String: Int] = [:]
            for marker in markers {
                guard let range = text.range(of: marker) else { continue }
                let rest = text[range.upperBound...].prefix { !$0.isWhitespace }
                if let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), port > 0 {
                    ports[marker] = port
                }
            }
            if ports.count == markers.count { return (process, logPath, ports) }
            if !process.isRunning {
                process.waitUntilExit()
                throw StartFailure(description: "\(subcommand) exited (status \(process.terminationStatus)) before "
                    + "listening:\n\(text)")
            }
            if clock.now > deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw StartFailure(description: "\(subcommand) did not log \(markers) within \(timeout):\n\(text)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// SIGTERM, then waits (bounded) for a clean exit; SIGKILL if it does not come. Returns the termination status.
    @discardableResult
    func stop(timeout: Duration = .seconds(15)) async throws -> Int32 {
        guard self.process.isRunning else { return self.process.terminationStatus }
        kill(self.pid, SIGTERM)
        if try await self.waitForExit(timeout: timeout) { return self.process.terminationStatus }
        kill(self.pid, SIGKILL)
        _ = try await self.waitForExit(timeout: .seconds(10))
        throw StartFailure(description: "\(self.name) ignored SIGTERM for \(timeout):\n\(self.log)")
    }

    /// SIGKILL: the process gets no chance to flush or clean up anything.
    func crash() async throws {
        guard self.process.isRunning else { return }
        kill(self.pid, SIGKILL)
        guard try await self.waitForExit(timeout: .seconds(10)) else {
            throw StartFailure(description: "\(self.name) still running 10 s after SIGKILL")
        }
    }

    func waitForExit(timeout: Duration) async throws -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while self.process.isRunning {
            if clock.now > deadline { return false }
            try await Task.sleep(for: .milliseconds(10))
        }
        self.process.waitUntilExit()
        return true
    }

    deinit {
        if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
    }
}

/// One `portcullis control-plane` process on 127.0.0.1 with an OS-assigned port (taken from its
/// "admin API listening on HOST:PORT" log line).
final class ControlPlaneProcess: ManagedProcess, @unchecked Sendable {
    let port: Int
    var baseURL: String { "http://127.0.0.1:\(self.port)" }

    /// The admin API, optionally with headers on every request.
    func admin(headers: [String: String] = [:]) -> AdminHTTP { AdminHTTP(baseURL: self.baseURL, headers: headers) }

    private init(dir: TempDir, process: Process, logPath: String, port: Int) {
        self.port = port
        super.init(dir: dir, process: process, logPath: logPath, name: "control-plane")
    }

    /// The usual flags: the database `db` (default `portcullis.db`) and the cluster socket in `dir`, port 0.
    static func standardArguments(_ dir: TempDir, db: String = "portcullis.db") -> [String] {
        ["--db", dir.path(db), "--admin-listen", "127.0.0.1:0", "--cluster-socket", dir.path("cluster.sock")]
    }

    /// Starts `portcullis control-plane` with `standardArguments(dir) + extra`.
    static func start(in dir: TempDir, extra: [String] = []) async throws -> ControlPlaneProcess {
        try await self.start(in: dir, arguments: self.standardArguments(dir) + extra)
    }

    /// Starts `portcullis control-plane ARGUMENTS` and waits up to `timeout` for its admin port.
    static func start(
        in dir: TempDir, arguments: [String], environment: [String: String] = Subprocess.environment(),
        workingDirectory: URL? = nil, timeout: Duration = .seconds(30)
    ) async throws -> ControlPlaneProcess {
        let marker = "admin API listening on "
        let (process, logPath, ports) = try await self.launch(
            "control-plane", in: dir, arguments: arguments, markers: [marker], environment: environment,
            workingDirectory: workingDirectory, timeout: timeout)
        return ControlPlaneProcess(dir: dir, process: process, logPath: logPath, port: ports[marker] ?? 0)
    }
}

/// One `portcullis data-plane` process: proxy and status ports OS-assigned, cache in its own folder of `dir`.
final class DataPlaneProcess: ManagedProcess, @unchecked Sendable {
    let proxyPort: Int
    let statusPort: Int
    var proxyURL: String { "http://127.0.0.1:\(self.proxyPort)" }
    var status: AdminHTTP { AdminHTTP(baseURL: "http://127.0.0.1:\(self.statusPort)") }
    var proxy: AdminHTTP { AdminHTTP(baseURL: self.proxyURL) }

    private init(dir: TempDir, process: Process, logPath: String, proxyPort: Int, statusPort: Int) {
        self.proxyPort = proxyPort
        self.statusPort = statusPort
        super.init(dir: dir, process: process, logPath: logPath, name: "data-plane")
    }

    /// Starts a data plane connected to `dir`'s cluster socket, with cache directory `dir/<cache>`.
    static func start(in dir: TempDir, cache: String, extra: [String] = []) async throws -> DataPlaneProcess {
        let proxy = "proxy listening on "
        let status = "status listening on "
        let (process, logPath, ports) = try await self.launch(
            "data-plane", in: dir,
            arguments: ["--cluster-socket", dir.path("cluster.sock"), "--proxy-listen", "127.0.0.1:0",
                        "--status-listen", "127.0.0.1:0", "--cache-dir", dir.path(cache), "--workers", "1"] + extra,
            markers: [proxy, status])
        return DataPlaneProcess(dir: dir, process: process, logPath: logPath, proxyPort: ports[proxy] ?? 0,
                                statusPort: ports[status] ?? 0)
    }

    /// `GET /status` of this data plane.
    func statusJSON() async throws -> JSON {
        try await self.status.expect(200, "GET", "/status")
    }
}
