import DataPlane
import Foundation
import GatewayModel
import Logging
import Testing

@Suite struct SnapshotApplyTests {
    static func content(_ names: [String]) -> ConfigContent {
        ConfigContent(entities: ["consumers": names.map {
            ["id": .string(UUIDString.v5("c:\($0)")), "username": .string($0), "custom_id": .null, "tags": .null,
             "created_at": 1, "updated_at": 1]
        }])
    }

    static func frame(_ c: ConfigContent) throws -> (hash: String, size: Int, compressed: [UInt8]) {
        let bytes = c.canonicalBytes()
        return (try ConfigHash.of(payload: bytes), bytes.count, try Deflate.compress(bytes, level: 1))
    }

    static func tempDir() throws -> String {
        let dir = "/tmp/pc-dp-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func decodesVerifiesAndReuses() throws {
        let f1 = try Self.frame(Self.content(["a", "b"]))
        let first = try SnapshotDecoder.decode(version: 1, hash: f1.hash, size: f1.size, compressed: f1.compressed,
                                               maxSize: 1 << 20, source: .controlPlane)
        #expect(first.content["consumers"].count == 2)
        let f2 = try Self.frame(Self.content(["a", "b", "c"]))
        let second = try SnapshotDecoder.decode(version: 2, hash: f2.hash, size: f2.size, compressed: f2.compressed,
                                                maxSize: 1 << 20, source: .controlPlane, previous: first)
        #expect(second.content["consumers"].count == 3)
        #expect(second.content.canonicalBytes() == Self.content(["a", "b", "c"]).canonicalBytes())
    }

    /// A configuration swapped out is freed by `releaseRetired` (the cluster client's thread-pool task), never by
    /// whoever drops the last other reference (an event loop's context or a request in flight).
    @Test func aSwappedOutConfigurationIsFreedOnlyByTheReclaimerOnceUnused() throws {
        let state = ConfigState()
        weak var weakFirst: AppliedConfig?
        var heldByALoop: AppliedConfig?
        do {
            let f1 = try Self.frame(Self.content(["a"]))
            let first = try SnapshotDecoder.decode(version: 1, hash: f1.hash, size: f1.size, compressed: f1.compressed,
                                                   maxSize: 1 << 20, source: .controlPlane)
            weakFirst = first
            heldByALoop = first
            state.apply(first)
            let f2 = try Self.frame(Self.content(["a", "b"]))
            state.apply(try SnapshotDecoder.decode(version: 2, hash: f2.hash, size: f2.size, compressed: f2.compressed,
                                                   maxSize: 1 << 20, source: .controlPlane, previous: first))
        }
        #expect(state.config?.version == 2)
        #expect(state.retiredCount == 1)
        // Still in use by a loop: kept.
        #expect(state.releaseRetired() == 0)
        #expect(weakFirst != nil)
        // The loop lets go (its next request sees version 2): the object survives that, and the reclaimer frees it.
        heldByALoop = nil
        #expect(weakFirst != nil, "the last reference was not the loop's")
        #expect(state.releaseRetired() == 1)
        #expect(weakFirst == nil)
        #expect(state.retiredCount == 0)
        // The configuration served is never retired.
        #expect(state.releaseRetired() == 0)
        #expect(state.config?.version == 2)
        _ = heldByALoop
    }

    @Test func rejectsWhatDoesNotCheckOut() throws {
        let f = try Self.frame(Self.content(["a"]))
        let wrongHash = String(repeating: "0", count: 64)
        #expect { try SnapshotDecoder.decode(version: 1, hash: wrongHash, size: f.size, compressed: f.compressed,
                                             maxSize: 1 << 20, source: .controlPlane) } throws: { error in
            (error as? ApplyError)?.description.contains("hash mismatch") == true
        }
        #expect { try SnapshotDecoder.decode(version: 1, hash: f.hash, size: f.size, compressed: f.compressed,
                                             maxSize: 10, source: .controlPlane) } throws: { error in
            (error as? ApplyError)?.description.contains("--max-config-size") == true
        }
        #expect { try SnapshotDecoder.decode(version: 1, hash: f.hash, size: f.size, compressed: [1, 2, 3],
                                             maxSize: 1 << 20, source: .controlPlane) } throws: { error in
            (error as? ApplyError)?.description.contains("cannot be inflated") == true
        }
        // Valid bytes with a valid hash, but not a valid configuration.
        let invalid = ConfigContent(entities: ["consumers": [["id": .string(UUIDString.v5("x")), "username": .null,
                                                              "custom_id": .null, "tags": .null, "created_at": 1,
                                                              "updated_at": 1]]])
        let g = try Self.frame(invalid)
        #expect { try SnapshotDecoder.decode(version: 1, hash: g.hash, size: g.size, compressed: g.compressed,
                                             maxSize: 1 << 20, source: .controlPlane) } throws: { error in
            (error as? ApplyError)?.description.contains("is invalid") == true
        }
    }

    @Test func cacheRoundTripAndTornFiles() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = SnapshotCache(directory: dir + "/cache")
        try cache.prepare()
        #expect(cache.load().entry == nil)
        #expect(cache.load().problem == nil)
        let id = try cache.nodeID()
        #expect(try cache.nodeID() == id)

        let f = try Self.frame(Self.content(["a"]))
        try cache.store(.init(version: 7, hash: f.hash, size: f.size, compressed: f.compressed))
        let loaded = try #require(cache.load().entry)
        #expect(loaded.version == 7)
        #expect(loaded.hash == f.hash)
        #expect(try SnapshotDecoder.decode(version: loaded.version, hash: loaded.hash, size: loaded.size,
                                           compressed: loaded.compressed, maxSize: 1 << 20, source: .cache).version == 7)

        // A payload that does not match its metadata is caught by the hash check, not served.
        try Data([9, 9, 9]).write(to: URL(fileURLWithPath: dir + "/cache/snapshot.bin"))
        let torn = try #require(cache.load().entry)
        #expect(throws: ApplyError.self) {
            try SnapshotDecoder.decode(version: torn.version, hash: torn.hash, size: torn.size,
                                       compressed: torn.compressed, maxSize: 1 << 20, source: .cache)
        }
        try Data("not json".utf8).write(to: URL(fileURLWithPath: dir + "/cache/snapshot.json"))
        #expect(cache.load().entry == nil)
        #expect(cache.load().problem?.contains("unreadable") == true)
    }

    static let serviceID = UUIDString.v5("s:1")

    /// Consumers plus one service with a route per path.
    static func content(_ names: [String], paths: [String]) -> ConfigContent {
        var c = Self.content(names).entities
        c["services"] = [["id": .string(Self.serviceID), "name": "svc", "protocol": "http", "host": "127.0.0.1",
                          "port": 9000, "path": .null, "retries": 5, "connect_timeout": 60000, "write_timeout": 60000,
                          "read_timeout": 60000, "enabled": true, "tags": .null, "ca_certificates": .null,
                          "tls_verify": .null, "tls_verify_depth": .null, "created_at": 1, "updated_at": 1]]
        c["routes"] = paths.map { p in
            ["id": .string(UUIDString.v5("r:\(p)")), "name": .string("r\(p.replacingOccurrences(of: "/", with: "-"))"),
             "paths": [.string(p)], "service": ["id": .string(Self.serviceID)], "protocols": ["http", "https"],
             "methods": .null, "hosts": .null, "headers": .null, "snis": .null, "sources": .null, "destinations": .null,
             "strip_path": true, "preserve_host": false, "regex_priority": 0, "path_handling": "v0",
             "https_redirect_status_code": 426, "request_buffering": true, "response_buffering": true, "tags": .null,
             "created_at": 1, "updated_at": 1]
        }
        return ConfigContent(entities: c)
    }

    static func rows(_ c: ConfigContent) -> ConfigRows {
        var bodies: [String: [(id: String, body: String)]] = [:]
        for (type, list) in c.entities {
            bodies[type] = list.map { ($0["id"]?.stringValue ?? "", JSONWriter.string(.object($0))) }
        }
        return ConfigRows(bodies: bodies, trustedIPs: c.trustedIPs)
    }

    static func routeID(_ config: AppliedConfig, _ path: String) -> String? {
        config.router.match(method: "GET", host: nil, path: Substring(path), defaultPort: 80) { _ in [] }?.route.id
    }

    @Test func deltasApplyAndWhatDoesNotFitAsksForAWholeSnapshot() throws {
        let v1 = Self.content(["a"], paths: ["/one", "/two"])
        let v2 = Self.content(["a", "b"], paths: ["/one", "/three"])
        let f1 = try Self.frame(v1)
        let first = try SnapshotDecoder.decode(version: 1, hash: f1.hash, size: f1.size, compressed: f1.compressed,
                                               maxSize: 1 << 20, source: .controlPlane)
        #expect(Self.routeID(first, "/two/x") == UUIDString.v5("r:/two"))
        let delta = Self.rows(v1).delta(to: Self.rows(v2))
        #expect(delta.rowCount == 3)  // consumer b, route /three in; route /two out
        let payload = delta.encode()
        let hash2 = Self.rows(v2).hash
        let second = try SnapshotDecoder.apply(delta: payload, version: 2, hash: hash2, baseHash: f1.hash,
                                               maxSize: 1 << 20, to: first)
        #expect(second.content == v2)
        #expect(Self.routeID(second, "/two/x") == nil)
        #expect(Self.routeID(second, "/three") == UUIDString.v5("r:/three"))
        #expect(Self.routeID(second, "/one") == UUIDString.v5("r:/one"))
        // Applied on another base, or announcing another result: refused, asking for a whole snapshot.
        #expect { try SnapshotDecoder.apply(delta: payload, version: 3, hash: hash2, baseHash: hash2, maxSize: 1 << 20,
                                            to: second) } throws: { ($0 as? ApplyError)?.resync == true }
        #expect { try SnapshotDecoder.apply(delta: payload, version: 2, hash: f1.hash, baseHash: f1.hash,
                                            maxSize: 1 << 20, to: first) } throws: {
            ($0 as? ApplyError).map { $0.resync && $0.description.contains("hash mismatch") } == true
        }
        // Garbage is a plain NACK: a whole snapshot would not help.
        #expect { try SnapshotDecoder.apply(delta: Array("{".utf8), version: 2, hash: hash2, baseHash: f1.hash,
                                            maxSize: 1 << 20, to: first) } throws: { ($0 as? ApplyError)?.resync == false }
        // A delta that fits and hashes right but leaves the configuration invalid is refused.
        var orphan = ConfigDelta()
        orphan.deletes["services"] = [Self.serviceID]
        let v3 = Self.rows(v1).applying(orphan)
        #expect { try SnapshotDecoder.apply(delta: orphan.encode(), version: 2, hash: v3.hash, baseHash: f1.hash,
                                            maxSize: 1 << 20, to: first) } throws: {
            ($0 as? ApplyError)?.description.contains("references a missing services") == true
        }
    }

    @Test func aRestartReplaysTheJournalOnItsSnapshot() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = SnapshotCache(directory: dir + "/cache")
        try cache.prepare()
        let versions = [Self.content(["a"], paths: ["/one"]), Self.content(["a", "b"], paths: ["/one"]),
                        Self.content(["a", "b"], paths: ["/one", "/two"])]
        let f = try Self.frame(versions[0])
        try cache.store(.init(version: 1, hash: f.hash, size: f.size, compressed: f.compressed))
        for i in 1..<versions.count {
            let from = Self.rows(versions[i - 1])
            let to = Self.rows(versions[i])
            try cache.append(.init(version: Int64(i + 1), hash: to.hash, baseVersion: Int64(i), baseHash: from.hash,
                                   payload: from.delta(to: to).encode()))
        }
        // A crash in the middle of an append leaves a torn tail: cut off, the complete records kept.
        let handle = try #require(FileHandle(forWritingAtPath: dir + "/cache/journal.bin"))
        handle.seekToEndOfFile()
        handle.write(Data([0, 0, 1, 0, 0, 0]))
        try handle.close()
        #expect(cache.loadJournal().count == 2)
        #expect(cache.loadJournal().count == 2)

        var configuration = DataPlaneConfiguration()
        configuration.cacheDir = dir + "/cache"
        configuration.nodeID = "test"
        let server = try DataPlaneServer(configuration: configuration, logger: Logger(label: "test"))
        let served = try #require(server.state.config)
        #expect(served.version == 3)
        #expect(served.hash == Self.rows(versions[2]).hash)
        #expect(served.source == .cache)
        #expect(Self.routeID(served, "/two") == UUIDString.v5("r:/two"))

        // A whole snapshot replaces the journal.
        let g = try Self.frame(versions[2])
        try cache.store(.init(version: 3, hash: g.hash, size: g.size, compressed: g.compressed))
        #expect(cache.loadJournal().isEmpty)
    }
}
