import Foundation
import GatewayModel
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Faults under load: the control plane down (5 s in `make test`, PORTCULLIS_SOAK_OUTAGE_SECONDS in `make soak`)
/// while two data planes serve, a data plane killed under `portcullis up`, config pushes while two serve.
@Suite("Faults under load")
struct OutageLoadTests {
    @Test("control plane down under load: no failed request; a data plane restarted meanwhile serves its cache")
    func controlPlaneOutageUnderLoad() async throws {
        let dir = try TempDir()
        var cp = try await ControlPlaneProcess.start(in: dir, extra: ClusterTests.heartbeat)
        let loaded = [try await DataPlaneProcess.start(in: dir, cache: "dp1"),
                      try await DataPlaneProcess.start(in: dir, cache: "dp2")]
        var spare = try await DataPlaneProcess.start(in: dir, cache: "dp3")
        try await cp.admin().expect(201, "POST", "/config", body: DataPlaneFaultTests.okYAML(),
                                    contentType: "application/yaml")
        let hash = try await ClusterTests.converge(cp, loaded + [spare])

        let outage = Duration.seconds(Soak.outageSeconds)
        let ports = loaded.map(\.proxyPort)
        // Load before, during and after the outage: wrk in `make soak` (one per data plane), else our own client.
        let useWrk = Soak.enabled && Wrk.available
        let stop = LoadClient.Stop()
        let load = Task { () async throws -> LoadClient.Figures in
            guard useWrk else {
                // Until the control plane is back and the data planes on it (bounded).
                return await LoadClient.run(ports: ports, path: "/ok", connections: 2, duration: outage + .seconds(120),
                                            stop: stop)
            }
            return try await withThrowingTaskGroup(of: LoadClient.Figures.self) { group in
                for port in ports {
                    group.addTask {
                        try await Wrk.run(url: "http://127.0.0.1:\(port)/ok", connections: 4, duration: outage + .seconds(4))
                    }
                }
                var total = LoadClient.Figures()
                for try await figures in group { total.add(figures) }
                return total
            }
        }
        try await Task.sleep(for: .seconds(1))
        let clock = ContinuousClock()
        let down = clock.now
        try await cp.crash()
        for dp in loaded + [spare] {
            try await ClusterTests.until("the data plane notices the control plane is gone") {
                try await dp.statusJSON()["cp_connected"] == false
            }
        }
        // A data plane killed and restarted while the control plane is away serves from its cache.
        try await spare.crash()
        spare = try await DataPlaneProcess.start(in: dir, cache: "dp3")
        let cached = try await spare.statusJSON()
        #expect(cached["config_source"] == "cache")
        #expect(cached["config_hash"]?.stringValue == hash)
        #expect(cached["cp_connected"] == false)
        #expect(try await spare.proxy.get("/ok").status == 200)

        let left = outage - (clock.now - down)
        if left > .zero { try await Task.sleep(for: left) }
        cp = try await ControlPlaneProcess.start(in: dir, extra: ClusterTests.heartbeat)
        let outageLasted = clock.now - down
        try await ClusterTests.converge(cp, loaded + [spare])
        stop.set()
        let figures = try await load.value
        Soak.report("control plane down \(outageLasted) under load (\(useWrk ? "wrk" : "LoadClient")) on 2 data "
            + "planes: \(figures)")
        #expect(figures.sent > 0)
        #expect(figures.failed == 0, "\(figures)")
        #expect(figures.ok == figures.sent)

        // After the outage the control plane's changes arrive again.
        try await cp.admin().expect(201, "POST", "/consumers", body: #"{"username":"after-outage"}"#)
        let newer = try await ClusterTests.converge(cp, loaded + [spare])
        #expect(newer != hash)
        for dp in loaded + [spare] { #expect(try await dp.stop() == 0) }
        #expect(try await cp.stop() == 0)
    }

    @Test("a data plane killed under load with up --data-planes 4: the others serve, up restarts it")
    func dataPlaneKilledUnderUp() async throws {
        let dir = try TempDir()
        let adminMarker = "admin API      http://"
        let proxyMarker = "proxy          "
        let (process, logPath, found) = try await ManagedProcess.launch(
            "up", in: dir,
            arguments: ["--data-planes", "4", "--db", dir.path("p.db"), "--admin-listen", "127.0.0.1:0",
                        "--proxy-listen", "127.0.0.1:0", "--status-listen", "127.0.0.1:0",
                        "--cluster-socket", dir.path("cluster.sock"), "--state-dir", dir.path("state")],
            markers: [adminMarker, proxyMarker], timeout: .seconds(60))
        let up = ManagedProcess(dir: dir, process: process, logPath: logPath, name: "up")
        let admin = AdminHTTP(baseURL: "http://127.0.0.1:\(found[adminMarker] ?? 0)")
        let port = try #require(found[proxyMarker])
        try await admin.expect(201, "POST", "/config", body: DataPlaneFaultTests.okYAML(), contentType: "application/yaml")
        try await ClusterTests.until("4 data planes normal and converged", timeout: .seconds(60)) {
            let s = try await admin.expect(200, "GET", "/clustering/status")
            return s["data_planes"]?["normal"] == 4 && s["converged"] == true
        }

        let connections = 8
        // Long enough to cover the kill and the restart, however slow the machine (the load ends on `stop`).
        let duration: Duration = .seconds(120)
        let stop = LoadClient.Stop()
        let load = Task {
            await LoadClient.run(ports: [port], path: "/ok", connections: connections, duration: duration, stop: stop)
        }
        // The victim: the data plane holding the most of the load's connections (SO_REUSEPORT spreads them).
        func startLines(_ name: String) -> [Substring] {
            up.log.split(separator: "\n").filter { $0.contains("[\(name)]") && $0.contains("data plane starting") }
        }
        var pids: [String: Int32] = [:]
        for i in 1...4 {
            let line = try #require(startLines("dp-\(i)").first)
            pids["dp-\(i)"] = try #require(line.split(separator: " ").first { $0.hasPrefix("pid=") }
                .flatMap { Int32($0.dropFirst(4)) })
        }
        var held: [String: Int] = [:]
        try await ClusterTests.until("the load's \(connections) connections established") {
            held = pids.mapValues { Self.establishedConnections(pid: $0, localPort: port) }
            return held.values.reduce(0, +) == connections
        }
        let (victim, onVictim) = try #require(held.max { $0.value < $1.value })
        kill(try #require(pids[victim]), SIGKILL)
        try await ClusterTests.until("the supervisor sees \(victim) exit") { up.log.contains("[supervisor] \(victim) exited") }
        try await ClusterTests.until("\(victim) restarted", timeout: .seconds(60)) { startLines(victim).count == 2 }
        // Some more load after the restart (20 s of it in soak).
        try await Task.sleep(for: Soak.enabled ? .seconds(20) : .seconds(2))
        stop.set()
        let during = await load.value
        Soak.report("up --data-planes 4, \(victim) killed under load holding \(onVictim) of \(connections) keep-alive "
            + "connections (per data plane: \(held.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))): \(during)")
        #expect(during.ok > 0)
        // Only the connections that were on the killed data plane can fail, each once.
        #expect(during.failed <= onVictim, "\(during)")

        try await ClusterTests.until("4 data planes normal again", timeout: .seconds(60)) {
            let s = try await admin.expect(200, "GET", "/clustering/status")
            return s["data_planes"]?["normal"] == 4 && s["converged"] == true
        }
        let after = await LoadClient.run(ports: [port], path: "/ok", connections: connections, duration: .seconds(2))
        Soak.report("after the restart: \(after)")
        #expect(after.failed == 0, "\(after)")
        #expect(try await up.stop(timeout: .seconds(30)) == 0)
    }

    @Test("config pushes during load: every request to the unchanged route answered 200")
    func configPushesUnderLoad() async throws {
        let dir = try TempDir()
        let cp = try await ControlPlaneProcess.start(in: dir, extra: ClusterTests.heartbeat)
        let dps = [try await DataPlaneProcess.start(in: dir, cache: "dp1"),
                   try await DataPlaneProcess.start(in: dir, cache: "dp2")]
        let admin = cp.admin()
        try await admin.expect(201, "POST", "/config", body: DataPlaneFaultTests.okYAML(), contentType: "application/yaml")
        let first = try await ClusterTests.converge(cp, dps)
        let pushes = Soak.enabled ? 500 : 100
        let stop = LoadClient.Stop()
        let ports = dps.map(\.proxyPort)
        // Bounded by time too, should the pushes stall.
        let load = Task { await LoadClient.run(ports: ports, path: "/ok", connections: 2, duration: .seconds(300), stop: stop) }
        for i in 1...pushes {
            // Alternately a new consumer and a route of its own (other routes than /ok change too).
            if i % 2 == 0 {
                try await admin.expect(201, "POST", "/consumers", body: #"{"username":"push-\#(i)"}"#)
            } else {
                try await admin.expect(201, "POST", "/services/svc/routes", body: #"{"name":"r\#(i)","paths":["/r\#(i)"]}"#)
            }
        }
        let last = try await ClusterTests.converge(cp, dps)
        stop.set()
        let figures = await load.value
        Soak.report("\(pushes) config pushes under load on 2 data planes: \(figures)")
        #expect(last != first)
        #expect(figures.sent > 0)
        #expect(figures.failed == 0, "\(figures)")
        for dp in dps { #expect(try await dp.stop() == 0) }
        #expect(try await cp.stop() == 0)
    }

    /// Established TCP connections the process `pid` holds on local port `localPort` (Linux: its socket inodes in
    /// /proc/PID/fd matched against /proc/net/tcp and tcp6).
    static func establishedConnections(pid: Int32, localPort: Int) -> Int {
        guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return 0 }
        var inodes = Set<String>()
        for fd in fds {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                target.hasPrefix("socket:[")
            else { continue }
            inodes.insert(String(target.dropFirst(8).dropLast()))
        }
        let portHex = String(format: ":%04X", localPort)
        var count = 0
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            // (Read to the end: Foundation's String(contentsOfFile:) stops after the first page of a /proc file.)
            guard let handle = FileHandle(forReadingAtPath: table), let data = try? handle.readToEnd() else { continue }
            try? handle.close()
            let text = String(decoding: data, as: UTF8.self)
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
                guard fields.count > 9, fields[1].hasSuffix(portHex), fields[3] == "01",
                    inodes.contains(String(fields[9]))
                else { continue }
                count += 1
            }
        }
        return count
    }
}
