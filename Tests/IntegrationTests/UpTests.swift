import Foundation
import GatewayModel
import Testing

@Suite("portcullis up")
struct UpTests {
    @Test("one host: a control plane and two data planes sharing the proxy port; a crashed data plane comes back; SIGTERM stops all")
    func supervisesAndStops() async throws {
        let dir = try TempDir()
        let adminMarker = "admin API      http://"
        let proxyMarker = "proxy          "
        let (process, logPath, ports) = try await ManagedProcess.launch(
            "up", in: dir,
            arguments: ["--data-planes", "2", "--db", dir.path("p.db"), "--admin-listen", "127.0.0.1:0",
                        "--proxy-listen", "127.0.0.1:0", "--status-listen", "127.0.0.1:0",
                        "--cluster-socket", dir.path("cluster.sock"), "--state-dir", dir.path("state")],
            markers: [adminMarker, proxyMarker], timeout: .seconds(60))
        let up = ManagedProcess(dir: dir, process: process, logPath: logPath, name: "up")
        let admin = AdminHTTP(baseURL: "http://127.0.0.1:\(ports[adminMarker] ?? 0)")
        let proxy = AdminHTTP(baseURL: "http://127.0.0.1:\(ports[proxyMarker] ?? 0)")

        try await ClusterTests.until("both data planes normal") {
            try await admin.expect(200, "GET", "/clustering/status")["data_planes"]?["normal"] == 2
        }
        #expect(try await proxy.get("/anything").status == 404)

        // Kill data plane 1 (its pid is in its start line); the supervisor restarts it.
        let line = try #require(up.log.split(separator: "\n").first { $0.contains("[dp-1]") && $0.contains("data plane starting") })
        let pidText = try #require(line.split(separator: " ").first { $0.hasPrefix("pid=") }?.dropFirst(4))
        let pid = try #require(Int32(pidText))
        kill(pid, SIGKILL)
        try await ClusterTests.until("restart logged") { up.log.contains("[supervisor] dp-1 exited") }
        try await ClusterTests.until("dp-1 back") {
            up.log.split(separator: "\n").filter { $0.contains("[dp-1]") && $0.contains("data plane starting") }.count == 2
        }
        try await ClusterTests.until("two data planes connected again") {
            try await admin.expect(200, "GET", "/clustering/status")["data_planes"]?["connected"] == 2
        }
        #expect(try await proxy.get("/anything").status == 404)

        #expect(try await up.stop(timeout: .seconds(40)) == 0)
        // Every child is gone with it.
        let children = up.log.split(separator: "\n").compactMap { l -> Int32? in
            guard l.contains("starting") || l.contains("database opened"), let p = l.split(separator: " ").first(where: { $0.hasPrefix("pid=") }) else { return nil }
            return Int32(p.dropFirst(4))
        }
        for child in children { #expect(kill(child, 0) != 0, "child \(child) still running") }
    }

    @Test("--proxy-port-per-data-plane: each data plane on its own proxy port, listed in the summary")
    func proxyPortPerDataPlane() async throws {
        let dir = try TempDir()
        let adminMarker = "admin API      http://"
        let proxyMarker = "proxy          "
        let (process, logPath, ports) = try await ManagedProcess.launch(
            "up", in: dir,
            arguments: ["--data-planes", "2", "--db", dir.path("p.db"), "--admin-listen", "127.0.0.1:0",
                        "--proxy-listen", "127.0.0.1:0", "--proxy-port-per-data-plane",
                        "--status-listen", "127.0.0.1:0",
                        "--cluster-socket", dir.path("cluster.sock"), "--state-dir", dir.path("state")],
            markers: [adminMarker, proxyMarker], timeout: .seconds(60))
        let up = ManagedProcess(dir: dir, process: process, logPath: logPath, name: "up")
        let line = try #require(up.log.split(separator: "\n").first { $0.contains(proxyMarker) })
        #expect(line.hasSuffix("(one per data plane)"), "\(line)")
        let proxies = line.split(separator: " ").filter { $0.hasPrefix("127.0.0.1:") }
            .compactMap { Int($0.dropFirst("127.0.0.1:".count)) }
        #expect(proxies.count == 2 && Set(proxies).count == 2, "\(line)")
        #expect(proxies.first == ports[proxyMarker])
        let admin = AdminHTTP(baseURL: "http://127.0.0.1:\(ports[adminMarker] ?? 0)")
        try await ClusterTests.until("both data planes normal") {
            try await admin.expect(200, "GET", "/clustering/status")["data_planes"]?["normal"] == 2
        }
        for port in proxies {
            #expect(try await AdminHTTP(baseURL: "http://127.0.0.1:\(port)").get("/x").status == 404)
        }
        #expect(try await up.stop(timeout: .seconds(40)) == 0)
    }
}
