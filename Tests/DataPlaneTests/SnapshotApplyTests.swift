import DataPlane
import Foundation
import GatewayModel
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
        return (Digest.sha256Hex(bytes), bytes.count, try Deflate.compress(bytes, level: 1))
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
}
