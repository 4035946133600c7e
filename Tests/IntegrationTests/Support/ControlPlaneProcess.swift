import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One `portcullis control-plane` process on 127.0.0.1 with an OS-assigned port.
///
/// Its stderr goes to a log file in ``dir``; ``start(in:arguments:environment:)`` waits (bounded) for the
/// "admin API listening on HOST:PORT" line and takes the port from it. The process is stopped by PID: ``stop()``
/// sends SIGTERM, ``crash()`` SIGKILL; deinit kills it if a test forgot (or failed before stopping it).
final class ControlPlaneProcess: @unchecked Sendable {
    struct StartFailure: Error, CustomStringConvertible {
        var description: String
    }

    let dir: TempDir
    let process: Process
    let logPath: String
    let port: Int
    var baseURL: String { "http://127.0.0.1:\(self.port)" }
    var pid: Int32 { self.process.processIdentifier }

    /// The admin API, optionally with headers on every request.
    func admin(headers: [String: String] = [:]) -> AdminHTTP { AdminHTTP(baseURL: self.baseURL, headers: headers) }

    var log: String { (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? "" }

    private init(dir: TempDir, process: Process, logPath: String, port: Int) {
        self.dir = dir
        self.process = process
        self.logPath = logPath
        self.port = port
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
        let binary = try Paths.binary()
        let logPath = dir.path("control-plane-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? log.close() }
        let process = Process()
        process.executableURL = binary
        process.arguments = ["control-plane"] + arguments
        process.environment = environment
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()

        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        let marker = "admin API listening on "
        while true {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if let range = text.range(of: marker) {
                let rest = text[range.upperBound...].prefix { !$0.isWhitespace }
                if let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), port > 0 {
                    return ControlPlaneProcess(dir: dir, process: process, logPath: logPath, port: port)
                }
            }
            if !process.isRunning {
                process.waitUntilExit()
                throw StartFailure(description: "control-plane exited (status \(process.terminationStatus)) before "
                    + "listening:\n\(text)")
            }
            if clock.now > deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw StartFailure(description: "control-plane did not log '\(marker)' within \(timeout):\n\(text)")
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
        throw StartFailure(description: "control-plane ignored SIGTERM for \(timeout):\n\(self.log)")
    }

    /// SIGKILL: the process gets no chance to flush or clean up anything.
    func crash() async throws {
        guard self.process.isRunning else { return }
        kill(self.pid, SIGKILL)
        guard try await self.waitForExit(timeout: .seconds(10)) else {
            throw StartFailure(description: "control-plane still running 10 s after SIGKILL")
        }
    }

    private func waitForExit(timeout: Duration) async throws -> Bool {
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
