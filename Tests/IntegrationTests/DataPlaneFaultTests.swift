import Foundation
import GatewayModel
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real `portcullis data-plane` process against a control plane played by the test (``FakeControlPlane``) on
/// the real Unix socket: bad frames, bad payloads, configurations it must refuse, and a cache that cannot be
/// written or read. Each time: a clear log line, no crash, the last good configuration keeps serving.
@Suite("Data plane faults")
struct DataPlaneFaultTests {
    /// One route, answered by the gateway itself (request-termination 200): no upstream needed.
    static func okYAML(consumers: [String] = []) -> String {
        var yaml = """
            _format_version: "3.0"
            services:
              - name: svc
                url: http://127.0.0.1:9/
                routes:
                  - name: ok
                    paths: ["/ok"]
                    plugins:
                      - name: request-termination
                        config: {status_code: 200, message: ok}

            """
        if !consumers.isEmpty {
            yaml += "consumers:\n" + consumers.map { "  - username: \($0)\n" }.joined()
        }
        return yaml
    }

    /// Waits until the log has `text` (bounded).
    static func logged(_ process: ManagedProcess, _ text: String) async throws {
        try await ClusterTests.until("the log says '\(text)'") { process.log.contains(text) }
    }

    /// The data plane is alive, serves `hash`, and `/ok` answers 200.
    static func stillServing(_ dp: DataPlaneProcess, _ hash: String, _ what: String) async throws {
        #expect(dp.process.isRunning, "\(what): the data plane died:\n\(dp.log)")
        let status = try await dp.statusJSON()
        #expect(status["config_hash"]?.stringValue == hash, "\(what): serves \(status["config_hash"] ?? .null)")
        let ok = try await dp.proxy.get("/ok")
        #expect(ok.status == 200, "\(what): /ok answered \(ok)")
    }

    @Test("bad frames and payloads from the control plane: NACK or disconnect, logged; the old config serves")
    func badFramesAndPayloads() async throws {
        let dir = try TempDir()
        let cp = try FakeControlPlane(path: dir.path("cluster.sock"))
        let dp = try await DataPlaneProcess.start(in: dir, cache: "dp")
        let hello = try await cp.accept()
        #expect(hello["config_hash"]?.isNull ?? true)

        let good = try FakeControlPlane.Snapshot(yaml: Self.okYAML())
        try await cp.sendSnapshot(good, version: 1)
        #expect(try await cp.reply(to: 1).type == 4)
        try await Self.stillServing(dp, good.hash, "after the good snapshot")

        let other = try FakeControlPlane.Snapshot(yaml: Self.okYAML(consumers: ["someone"]))
        // (version, what is sent, what the NACK's reason says)
        var corrupt = other.compressed
        for i in stride(from: 8, to: corrupt.count, by: 7) { corrupt[i] ^= 0x5A }
        let cases: [(Int64, (hash: String, size: Int, compressed: [UInt8], encoding: String), String)] = [
            (2, (good.hash, other.size, other.compressed, "zlib+json"), "hash mismatch"),
            (3, (other.hash, other.size, corrupt, "zlib+json"), "snapshot 3"),
            (4, (other.hash, other.size, Array(other.compressed.prefix(other.compressed.count / 2)), "zlib+json"),
             "cannot be inflated"),
            (5, (other.hash, other.size + 100, other.compressed, "zlib+json"), "cannot be inflated"),
            (6, (other.hash, other.size, other.compressed, "brotli+json"), "unknown snapshot encoding"),
            (7, (other.hash, other.size, Array(repeating: 0, count: 64), "zlib+json"), "cannot be inflated"),
        ]
        for (version, frame, reason) in cases {
            try await cp.sendSnapshot(version: version, hash: frame.hash, size: frame.size,
                                      compressed: frame.compressed, encoding: frame.encoding)
            let reply = try await cp.reply(to: version)
            #expect(reply.type == 5, "version \(version) was not refused: \(JSONWriter.string(reply.json))")
            let text = reply.json["reason"]?.stringValue ?? ""
            #expect(text.contains(reason), "version \(version): reason '\(text)' does not say '\(reason)'")
            try await Self.stillServing(dp, good.hash, "after bad snapshot \(version)")
        }
        try await Self.logged(dp, "snapshot rejected; still serving the previous configuration")
        #expect(try await dp.statusJSON()["last_error"]?.stringValue?.isEmpty == false)

        // Frames that cannot be read: the data plane logs, hangs up and reconnects still serving its config.
        let snapshotFrame = FakeControlPlane.frame(
            type: 3, body: FakeControlPlane.binaryBody(
                header: ["version": 8, "hash": .string(other.hash), "size": .int(Int64(other.size)),
                         "encoding": "zlib+json"], payload: other.compressed))
        let broken: [(String, [UInt8], Bool)] = [
            // (what, bytes, whether the connection is closed right after sending them)
            ("a frame torn by a closed connection", Array(snapshotFrame.prefix(snapshotFrame.count / 2)), true),
            ("an unknown frame type", FakeControlPlane.frame(type: 200, body: Array("{}".utf8)), false),
            ("a notice whose body is not JSON", FakeControlPlane.frame(type: 8, body: Array("{not json".utf8)), false),
            ("a snapshot header longer than its body",
             FakeControlPlane.frame(type: 3, body: FakeControlPlane.u32(1 << 20) + Array("{}".utf8)), false),
            ("a snapshot header that is not JSON",
             FakeControlPlane.frame(type: 3, body: FakeControlPlane.u32(3) + Array("abc".utf8)), false),
            ("an empty frame", FakeControlPlane.u32(0), false),
            ("a frame longer than --max-frame", FakeControlPlane.u32(Int(UInt32.max)) + [3], false),
        ]
        for (what, bytes, hangUp) in broken {
            try await cp.sendRaw(bytes)
            if hangUp { cp.drop() } else { try await cp.waitForClose() }
            let again = try await cp.accept()
            #expect(again["config_hash"]?.stringValue == good.hash, "\(what): reconnected announcing \(again)")
            try await Self.stillServing(dp, good.hash, "after \(what)")
        }
        try await Self.logged(dp, "cluster frame refused")
        for text in ["connection closed in the middle of a frame", "empty frame", "exceeds the limit"] {
            #expect(dp.log.contains(text), "the log does not say '\(text)'")
        }

        // Still a working data plane: the next good snapshot is applied.
        try await cp.sendSnapshot(other, version: 9)
        #expect(try await cp.reply(to: 9).type == 4)
        try await Self.stillServing(dp, other.hash, "after the next good snapshot")
        #expect(try await dp.stop() == 0)
    }

    /// alb-mtls.yaml's configuration with the plugin's `trusted_sources` removed and no gateway trusted IPs:
    /// what the control plane refuses at write time (`secure_source` with nothing to check the peer against).
    static func openCertAuth(_ base: FakeControlPlane.Snapshot) throws -> FakeControlPlane.Snapshot {
        var entities = base.content.entities
        entities["plugins"] = try #require(entities["plugins"]).map { plugin in
            guard plugin["name"] == "header-cert-auth", case .object(var config)? = plugin["config"] else { return plugin }
            config["trusted_sources"] = []
            config["secure_source"] = true
            var open = plugin
            open["config"] = .object(config)
            return open
        }
        return try FakeControlPlane.Snapshot(ConfigContent(entities: entities, trustedIPs: []))
    }

    @Test("header-cert-auth with secure_source and no trusted sources at all is refused (snapshot and delta)")
    func headerCertAuthWithoutTrustedSources() async throws {
        let dir = try TempDir()
        let cp = try FakeControlPlane(path: dir.path("cluster.sock"))
        let dp = try await DataPlaneProcess.start(in: dir, cache: "dp")
        try await cp.accept()
        let yaml = try String(contentsOf: try Paths.example("alb-mtls.yaml"), encoding: .utf8)
        let guarded = try FakeControlPlane.Snapshot(yaml: yaml)
        let open = try Self.openCertAuth(guarded)
        #expect(open.hash != guarded.hash)
        let expected = "secure_source is true but no trusted sources are configured"

        // Before any configuration: refused, nothing served (503), not an open gateway.
        try await cp.sendSnapshot(open, version: 1)
        let first = try await cp.reply(to: 1)
        #expect(first.type == 5)
        #expect(first.json["reason"]?.stringValue?.contains(expected) == true, "\(JSONWriter.string(first.json))")
        #expect(try await dp.proxy.get("/mtls").status == 503)

        // With a guarded configuration served: refused whole, and as a delta; the guarded one keeps serving
        // (a request without a certificate header is still refused).
        try await cp.sendSnapshot(guarded, version: 2)
        #expect(try await cp.reply(to: 2).type == 4)
        let before = try await dp.proxy.get("/mtls")
        #expect(before.status == 401)
        try await cp.sendSnapshot(open, version: 3)
        let whole = try await cp.reply(to: 3)
        #expect(whole.type == 5)
        #expect(whole.json["reason"]?.stringValue?.contains(expected) == true, "\(JSONWriter.string(whole.json))")
        let delta = guarded.rows.delta(to: open.rows)
        #expect(delta.rowCount == 1)
        try await cp.sendDelta(version: 4, hash: open.hash, baseVersion: 2, baseHash: guarded.hash,
                               payload: delta.encode())
        let partial = try await cp.reply(to: 4)
        #expect(partial.type == 5)
        #expect(partial.json["resync"]?.boolValue != true, "a whole snapshot would not make it acceptable")
        #expect(partial.json["reason"]?.stringValue?.contains(expected) == true, "\(JSONWriter.string(partial.json))")

        let status = try await dp.statusJSON()
        #expect(status["config_hash"]?.stringValue == guarded.hash)
        #expect(status["last_error"]?.stringValue?.contains(expected) == true)
        #expect(try await dp.proxy.get("/mtls").status == before.status)
        try await Self.logged(dp, "snapshot rejected; still serving the previous configuration")
        #expect(try await dp.stop() == 0)
    }

    @Test("a cache that cannot be written (disk full, read-only) or read (corrupt): logged, the config serves")
    func cacheFaults() async throws {
        let dir = try TempDir()
        let cache = dir.path("dp")
        let cp = try FakeControlPlane(path: dir.path("cluster.sock"))
        var dp = try await DataPlaneProcess.start(in: dir, cache: "dp")
        try await cp.accept()
        let v1 = try FakeControlPlane.Snapshot(yaml: Self.okYAML(consumers: ["a"]))
        let v2 = try FakeControlPlane.Snapshot(yaml: Self.okYAML(consumers: ["a", "b"]))
        let v3 = try FakeControlPlane.Snapshot(yaml: Self.okYAML(consumers: ["a", "b", "c"]))

        // Disk full: the cache writes go to /dev/full (every write fails with ENOSPC, as on a full disk). The
        // temporary files the cache renames into place are named after the pid, so they are links to it.
        for name in ["snapshot.bin", "snapshot.json"] {
            #expect(symlink("/dev/full", cache + "/\(name).tmp-\(dp.pid)") == 0)
        }
        #expect(symlink("/dev/full", cache + "/journal.bin") == 0)
        try await cp.sendSnapshot(v1, version: 1)
        #expect(try await cp.reply(to: 1).type == 4, "applied even though it cannot be cached")
        try await Self.logged(dp, "snapshot applied but not cached")
        #expect(dp.log.contains("No space left on device"))
        try await Self.stillServing(dp, v1.hash, "disk full, whole snapshot")
        let delta = v1.rows.delta(to: v2.rows)
        try await cp.sendDelta(version: 2, hash: v2.hash, baseVersion: 1, baseHash: v1.hash, payload: delta.encode())
        #expect(try await cp.reply(to: 2).type == 4)
        try await ClusterTests.until("the journal append failure logged") {
            dp.log.components(separatedBy: "snapshot applied but not cached").count >= 3
        }
        try await Self.stillServing(dp, v2.hash, "disk full, delta")
        #expect(try await dp.statusJSON()["last_error"]?.stringValue?.contains("cache write failed") == true)
        // (The failed write removed its temporary file, the link; what is left goes.)
        for name in ["snapshot.bin.tmp-\(dp.pid)", "snapshot.json.tmp-\(dp.pid)", "journal.bin"] {
            unlink(cache + "/" + name)
        }

        // Space again: the next whole snapshot is cached.
        try await cp.sendSnapshot(v2, version: 3)
        #expect(try await cp.reply(to: 3).type == 4)
        try await ClusterTests.until("snapshot 3 cached") {
            let meta = FileManager.default.contents(atPath: cache + "/snapshot.json").flatMap { try? JSONParser.parse(Array($0)) }
            return meta?["version"]?.intValue == 3
        }

        // Read-only cache directory: applied, not cached, logged; a restart still serves the cache.
        if let readOnly = try ReadOnly(cache) {
            Soak.report("read-only cache directory made with: \(readOnly.how)")
            defer { try? readOnly.undo() }
            try await cp.sendSnapshot(v3, version: 4)
            #expect(try await cp.reply(to: 4).type == 4)
            try await ClusterTests.until("the read-only failure logged") {
                dp.log.components(separatedBy: "snapshot applied but not cached").count >= 4
            }
            #expect(dp.log.contains("Read-only file system") || dp.log.contains("Permission denied")
                || dp.log.contains("Operation not permitted"))
            try await Self.stillServing(dp, v3.hash, "read-only cache")
            #expect(try await dp.stop() == 0)
            dp = try await DataPlaneProcess.start(in: dir, cache: "dp")
            let hello = try await cp.accept()
            #expect(hello["config_hash"]?.stringValue == v2.hash)
            #expect(try await dp.statusJSON()["config_source"] == "cache")
            try await Self.stillServing(dp, v2.hash, "restarted on a read-only cache")
            try await cp.sendSnapshot(v3, version: 4)
            #expect(try await cp.reply(to: 4).type == 4)
            try await Self.stillServing(dp, v3.hash, "read-only cache, after the restart")
        } else {
            Soak.report("read-only cache directory: not tested (no way to make one here: not root-free chmod, "
                + "no mount, no chattr)")
        }

        // Corrupt cache files on start: reported, ignored, the control plane's next snapshot serves.
        let corruptions: [(String, [UInt8], String)] = [
            ("snapshot.bin", Array(repeating: 0x42, count: 100), "cached snapshot rejected"),
            ("snapshot.json", Array("{\"version\": 4, \"hash\": ".utf8), "snapshot cache unusable"),
        ]
        for (file, bytes, line) in corruptions {
            #expect(try await dp.stop() == 0)
            try Data(bytes).write(to: URL(fileURLWithPath: cache + "/" + file))
            dp = try await DataPlaneProcess.start(in: dir, cache: "dp")
            try await Self.logged(dp, line)
            let hello = try await cp.accept()
            #expect(hello["config_hash"]?.isNull ?? true, "\(file): announced \(hello)")
            #expect(try await dp.proxy.get("/ok").status == 503, "\(file): served something without a config")
            #expect(try await dp.statusJSON()["last_error"]?.stringValue?.isEmpty == false)
            try await cp.sendSnapshot(v3, version: 5)
            #expect(try await cp.reply(to: 5).type == 4)
            try await Self.stillServing(dp, v3.hash, "after a corrupt \(file)")
            try await ClusterTests.until("the cache rewritten") {
                let meta = FileManager.default.contents(atPath: cache + "/snapshot.json")
                    .flatMap { try? JSONParser.parse(Array($0)) }
                return meta?["version"]?.intValue == 5
            }
        }
        #expect(try await dp.stop() == 0)
    }

    @Test("a cache directory that cannot be written at first start: a clear startup error, not a crash")
    func unwritableCacheAtFirstStart() async throws {
        let dir = try TempDir()
        let cache = dir.path("dp")
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        guard let readOnly = try ReadOnly(cache) else { return }
        defer { try? readOnly.undo() }
        let binary = try Paths.binary()
        let result = try await Subprocess.run(binary, [
            "data-plane", "--cluster-socket", dir.path("cluster.sock"), "--proxy-listen", "127.0.0.1:0",
            "--status-listen", "127.0.0.1:0", "--cache-dir", cache,
        ], timeout: .seconds(30))
        #expect(result.exitedNormally, "\(result)")
        #expect(result.status != 0)
        #expect((result.stdout + result.stderr).contains(cache), "\(result)")
    }
}

/// A directory made read-only for this process, even as root: `chmod 0500` for other users; for root, a
/// read-only bind mount of the directory on itself, else `chattr +i`. Nil when none of these is possible.
struct ReadOnly {
    let path: String
    let how: String
    private let undoArguments: [String]

    init?(_ path: String) throws {
        self.path = path
        if geteuid() != 0 {
            guard chmod(path, 0o500) == 0 else { return nil }
            self.how = "chmod 0500"
            self.undoArguments = ["chmod", "0700", path]
            return
        }
        if Self.run(["mount", "--bind", path, path]) {
            if Self.run(["mount", "-o", "remount,bind,ro", path]) {
                self.how = "a read-only bind mount"
                self.undoArguments = ["umount", path]
                return
            }
            _ = Self.run(["umount", path])
        }
        if Self.run(["chattr", "+i", path]) {
            self.how = "chattr +i"
            self.undoArguments = ["chattr", "-i", path]
            return
        }
        return nil
    }

    func undo() throws {
        guard Self.run(self.undoArguments) else {
            throw AdminHTTP.Failure(description: "could not undo \(self.how) on \(self.path)")
        }
    }

    /// Runs a short system command (mount, chattr) and says whether it succeeded; output discarded.
    static func run(_ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationReason == .exit && process.terminationStatus == 0
    }
}
