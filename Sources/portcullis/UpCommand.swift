import ArgumentParser
import Foundation
import GatewayModel
import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Synchronization

struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run one control plane and N data planes on this host, restarting data planes that crash.",
        discussion: """
            The data planes share the proxy port (SO_REUSEPORT), or each gets its own with \
            --proxy-port-per-data-plane (to sit behind a load balancer that lists every data plane as a target). \
            Each gets its own status port (consecutive ports from --status-listen, or OS-assigned with port 0) and \
            cache directory (<state-dir>/dp-N). SIGINT or SIGTERM stops everything gracefully: in-flight requests \
            finish.
            """
    )

    @Option(help: ArgumentHelp(Environment.help("How many data planes", "data-planes")))
    var dataPlanes: Int = Environment.int("data-planes", default: 2)

    @Option(help: ArgumentHelp(Environment.help("Path of the SQLite database file", "db")))
    var db: String = Environment.string("db", default: "./.portcullis/portcullis.db")

    @Option(help: ArgumentHelp(Environment.help("Admin API listen address", "admin-listen")))
    var adminListen: String = Environment.string("admin-listen", default: "127.0.0.1:8001")

    @Option(help: ArgumentHelp(Environment.help("Proxy listen address shared by the data planes", "proxy-listen")))
    var proxyListen: String = Environment.string("proxy-listen", default: "0.0.0.0:8000")

    @Flag(help: ArgumentHelp(Environment.help(
        "Give each data plane its own proxy port: consecutive ports from --proxy-listen, or OS-assigned with port 0",
        "proxy-port-per-data-plane")))
    var proxyPortPerDataPlane: Bool = Environment.value("proxy-port-per-data-plane") != nil

    @Option(help: ArgumentHelp(Environment.help("TLS proxy listen address shared by the data planes (off when empty)", "proxy-tls-listen")))
    var proxyTlsListen: String = Environment.string("proxy-tls-listen", default: "")

    @Option(help: ArgumentHelp(Environment.help("PEM certificate chain of the TLS proxy listener", "tls-cert")))
    var tlsCert: String = Environment.string("tls-cert", default: "")

    @Option(help: ArgumentHelp(Environment.help("PEM private key of the TLS proxy listener", "tls-key")))
    var tlsKey: String = Environment.string("tls-key", default: "")

    @Option(help: ArgumentHelp(Environment.help("First data plane's status address; the others take the next ports", "status-listen")))
    var statusListen: String = Environment.string("status-listen", default: "127.0.0.1:8100")

    @Option(help: ArgumentHelp(Environment.help("Unix socket between the planes", "cluster-socket")))
    var clusterSocket: String = Environment.string("cluster-socket", default: "./.portcullis/cluster.sock")

    @Option(help: ArgumentHelp(Environment.help("Directory for the data planes' caches", "state-dir")))
    var stateDir: String = Environment.string("state-dir", default: "./.portcullis")

    @Option(help: ArgumentHelp(Environment.help("Data planes' access logs: file (one each, <state-dir>/dp-N/access.log), stdout, off, or a path they share", "access-log")))
    var accessLog: String = Environment.string("access-log", default: "file")

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard !self.accessLog.isEmpty else {
            throw ValidationError("--access-log must be file, stdout, off or a file path shared by the data planes")
        }
        guard (1...64).contains(self.dataPlanes) else { throw ValidationError("--data-planes must be between 1 and 64") }
        for (flag, value) in [("--admin-listen", self.adminListen), ("--proxy-listen", self.proxyListen),
                              ("--status-listen", self.statusListen)] where ListenAddress(value) == nil
        {
            throw ValidationError("\(flag) must be HOST:PORT, got '\(value)'")
        }
        if self.proxyPortPerDataPlane, let proxy = ListenAddress(self.proxyListen), proxy.port != 0,
           proxy.port + self.dataPlanes - 1 > 65535
        {
            throw ValidationError(
                "--proxy-listen: \(self.dataPlanes) consecutive ports from \(proxy.port) go past 65535")
        }
        if !self.proxyTlsListen.isEmpty {
            guard let tls = ListenAddress(self.proxyTlsListen) else {
                throw ValidationError("--proxy-tls-listen must be HOST:PORT, got '\(self.proxyTlsListen)'")
            }
            guard !self.tlsCert.isEmpty, !self.tlsKey.isEmpty else {
                throw ValidationError("--proxy-tls-listen needs --tls-cert and --tls-key")
            }
            // The data planes share the TLS port like the plain one: each must be told the same port.
            guard tls.port != 0 || self.dataPlanes == 1 else {
                throw ValidationError("--proxy-tls-listen needs a fixed port with more than one data plane")
            }
        }
    }

    func run() async throws {
        guard let status = ListenAddress(self.statusListen), let proxy = ListenAddress(self.proxyListen) else {
            throw ExitCode.validationFailure
        }
        // The supervisor reads the children's "listening on" lines (logged at notice): never hide them.
        let level = self.logging.logLevel
        let childLevel = ["warning", "error", "critical"].contains(level) ? "notice" : level
        let supervisor = Supervisor(executable: Supervisor.selfExecutable())
        supervisor.installSignalHandlers()

        let cp = supervisor.spawn(name: "control-plane", arguments: [
            "control-plane", "--db", self.db, "--admin-listen", self.adminListen, "--cluster-socket", self.clusterSocket,
            "--log-level", childLevel,
        ], marker: "admin API listening on ")
        guard let admin = try await supervisor.waitForAddress(cp, timeout: .seconds(60)) else {
            supervisor.shutdown()
            throw CLIError("the control plane did not start; see its log above")
        }

        var proxyAddress = self.proxyListen
        let tlsArguments = self.proxyTlsListen.isEmpty ? [] : [
            "--proxy-tls-listen", self.proxyTlsListen, "--tls-cert", self.tlsCert, "--tls-key", self.tlsKey,
        ]
        var statusAddresses: [String] = []
        var proxyAddresses: [String] = []
        for i in 1...self.dataPlanes {
            let statusAddress = status.port == 0 ? "\(status.host):0" : "\(status.host):\(status.port + i - 1)"
            if self.proxyPortPerDataPlane {
                proxyAddress = proxy.port == 0 ? "\(proxy.host):0" : "\(proxy.host):\(proxy.port + i - 1)"
            }
            let accessLog = self.accessLog == "file" ? "\(self.stateDir)/dp-\(i)/access.log" : self.accessLog
            let dp = supervisor.spawn(name: "dp-\(i)", arguments: [
                "data-plane", "--cluster-socket", self.clusterSocket, "--proxy-listen", proxyAddress,
                "--status-listen", statusAddress, "--cache-dir", "\(self.stateDir)/dp-\(i)", "--log-level", childLevel,
                "--access-log", accessLog,
            ] + tlsArguments, marker: "proxy listening on ", secondMarker: "status listening on ")
            guard let bound = try await supervisor.waitForAddress(dp, timeout: .seconds(60)) else {
                supervisor.shutdown()
                throw CLIError("data plane \(i) did not start; see its log above")
            }
            // With port 0, the first data plane picks the port and the others join it (unless each has its own).
            if proxy.port == 0, i == 1, !self.proxyPortPerDataPlane { proxyAddress = bound }
            proxyAddresses.append(bound)
            statusAddresses.append(supervisor.secondAddress(dp) ?? statusAddress)
        }
        let tlsLine = self.proxyTlsListen.isEmpty ? "" : "\n  proxy TLS      \(self.proxyTlsListen)"
        let proxyLine = self.proxyPortPerDataPlane
            ? "\(proxyAddresses.joined(separator: "  "))  (one per data plane)"
            : "\(proxyAddress)  (shared by every data plane, SO_REUSEPORT)"
        let summary = """
            portcullis up: \(self.dataPlanes) data plane(s) and a control plane
              admin API      http://\(admin)
              proxy          \(proxyLine)\(tlsLine)
              status         \(statusAddresses.map { "http://\($0)/status" }.joined(separator: "  "))
              metrics        \(statusAddresses.map { "http://\($0)/metrics" }.joined(separator: "  "))  http://\(admin)/metrics
              access logs    \(self.accessLog == "file" ? "\(self.stateDir)/dp-N/access.log" : self.accessLog)
              cluster socket \(self.clusterSocket)
              database       \(self.db)
            Ctrl-C (SIGINT) or SIGTERM stops everything gracefully.

            """
        FileHandle.standardError.write(Data(summary.utf8))
        let watcher = Task { await Self.watchConvergence(admin: admin, dataPlanes: self.dataPlanes) }
        await supervisor.superviseUntilSignalled()
        watcher.cancel()
    }

    /// One line on standard error whenever the cluster's state changes (a new configuration version, a data plane
    /// catching up, failing or going away): what `GET /clustering/status` says, never more often than it changes.
    static func watchConvergence(admin: String, dataPlanes: Int) async {
        var request = HTTPClientRequest(url: "http://\(admin)/clustering/status")
        // The control plane inherits the environment: a token set there is required of this client too.
        if let token = Environment.value("admin-token") { request.headers.add(name: "Kong-Admin-Token", value: token) }
        var last = ""
        while !Task.isCancelled {
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(5)), response.status == .ok,
               let body = try? await response.body.collect(upTo: 1 << 20),
               let json = try? JSONParser.parse(Array(body.readableBytesView))
            {
                let line = Self.convergenceLine(json, expected: dataPlanes)
                if line != last {
                    FileHandle.standardError.write(Data("[up] \(line)\n".utf8))
                    last = line
                }
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    /// `config v3: 2/2 data planes converged`, or what is still missing.
    static func convergenceLine(_ status: JSON, expected: Int) -> String {
        let planes = status["data_planes"]
        func n(_ key: String) -> Int64 { planes?[key]?.intValue ?? 0 }
        let version = status["newest"]?["version"]?.intValue.map { "config v\($0)" } ?? "no configuration yet"
        if status["converged"]?.boolValue == true, n("connected") >= Int64(expected) {
            return "\(version): \(n("normal"))/\(expected) data planes converged"
        }
        var missing: [String] = []
        for key in ["syncing", "failed", "stale", "offline"] where n(key) > 0 { missing.append("\(n(key)) \(key)") }
        let notConnected = Int64(expected) - n("connected")
        if notConnected > 0 { missing.append("\(notConnected) not connected") }
        return "\(version): \(n("normal"))/\(expected) data planes in sync"
            + (missing.isEmpty ? "" : " (\(missing.joined(separator: ", ")))")
    }
}

/// Starts child processes of this executable, forwards their logs with a prefix, restarts crashed children with
/// backoff, and stops them all on SIGINT/SIGTERM (forwarding SIGTERM, waiting, then SIGKILL).
final class Supervisor: Sendable {
    final class Child: Sendable {
        let name: String
        let arguments: [String]
        let marker: String
        let secondMarker: String?
        let state = Mutex<(process: Process?, address: String?, second: String?, restarts: Int, startedAt: ContinuousClock.Instant)>(
            (nil, nil, nil, 0, .now))

        init(name: String, arguments: [String], marker: String, secondMarker: String?) {
            self.name = name
            self.arguments = arguments
            self.marker = marker
            self.secondMarker = secondMarker
        }
    }

    private let executable: String
    private let children = Mutex<[Child]>([])
    private let stopping = Atomic<Bool>(false)
    private let signalled = AsyncStream<Void>.makeStream()

    init(executable: String) {
        self.executable = executable
    }

    static func selfExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    func installSignalHandlers() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in
                self?.signalled.continuation.yield()
            }
            source.resume()
            SignalSources.keep(source)
        }
    }

    func spawn(name: String, arguments: [String], marker: String, secondMarker: String? = nil) -> Child {
        let child = Child(name: name, arguments: arguments, marker: marker, secondMarker: secondMarker)
        self.children.withLock { $0.append(child) }
        self.start(child)
        return child
    }

    private func start(_ child: Child) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: self.executable)
        process.arguments = child.arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        process.terminationHandler = { [weak self] p in self?.exited(child, p) }
        child.state.withLock {
            $0.process = process
            $0.startedAt = .now
        }
        do {
            try process.run()
        } catch {
            FileHandle.standardError.write(Data("[\(child.name)] cannot start: \(error)\n".utf8))
            return
        }
        let reader = pipe.fileHandleForReading
        Thread.detachNewThread { [child] in
            var pending = Data()
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let nl = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[pending.startIndex..<nl], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...nl)
                    Self.note(line, child)
                    FileHandle.standardError.write(Data("[\(child.name)] \(line)\n".utf8))
                }
            }
        }
    }

    private static func note(_ line: String, _ child: Child) {
        func address(after marker: String) -> String? {
            guard let r = line.range(of: marker) else { return nil }
            return String(line[r.upperBound...].prefix { !$0.isWhitespace })
        }
        if let a = address(after: child.marker) { child.state.withLock { $0.address = a } }
        if let m = child.secondMarker, let a = address(after: m) { child.state.withLock { $0.second = a } }
    }

    private func exited(_ child: Child, _ process: Process) {
        guard !self.stopping.load(ordering: .relaxed) else { return }
        let (restarts, uptime) = child.state.withLock { s -> (Int, Duration) in
            let up = ContinuousClock.now - s.startedAt
            // A child that ran a while has recovered: its backoff starts over.
            s.restarts = up > .seconds(30) ? 1 : s.restarts + 1
            s.address = nil
            s.second = nil
            return (s.restarts, up)
        }
        let delay = min(Duration.milliseconds(100) * (1 << min(restarts - 1, 6)), .seconds(5))
        FileHandle.standardError.write(Data(
            "[supervisor] \(child.name) exited (status \(process.terminationStatus)) after \(uptime); restarting in \(delay)\n".utf8))
        Task {
            try? await Task.sleep(for: delay)
            guard !self.stopping.load(ordering: .relaxed) else { return }
            self.start(child)
        }
    }

    /// The first marker's address once the child logs it, or nil after `timeout` or if it died.
    func waitForAddress(_ child: Child, timeout: Duration) async throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let (address, second, running) = child.state.withLock { ($0.address, $0.second, $0.process?.isRunning ?? false) }
            if let address, child.secondMarker == nil || second != nil { return address }
            if !running, child.state.withLock({ $0.restarts }) > 3 { return nil }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    func secondAddress(_ child: Child) -> String? { child.state.withLock { $0.second } }

    func superviseUntilSignalled() async {
        for await _ in self.signalled.stream { break }
        FileHandle.standardError.write(Data("[supervisor] stopping: data planes first, then the control plane\n".utf8))
        self.shutdown()
    }

    /// SIGTERM to the data planes, then the control plane; waits (bounded), SIGKILL for stragglers.
    func shutdown() {
        self.stopping.store(true, ordering: .relaxed)
        let all = self.children.withLock { $0 }
        let ordered = all.filter { $0.name != "control-plane" } + all.filter { $0.name == "control-plane" }
        for group in [Array(ordered.dropLast()), Array(ordered.suffix(1))] {
            let processes = group.compactMap { c in c.state.withLock { $0.process } }.filter(\.isRunning)
            for p in processes { kill(p.processIdentifier, SIGTERM) }
            let deadline = Date().addingTimeInterval(30)
            while processes.contains(where: \.isRunning), Date() < deadline { usleep(20_000) }
            for p in processes where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
    }
}

/// Dispatch signal sources live as long as the process (set up once, from the main task, before anything runs).
enum SignalSources {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
    static func keep(_ source: any DispatchSourceSignal) { self.sources.append(source) }
}
