import Foundation
import GatewayModel
import Testing

@Suite("Digest")
struct DigestTests {
    @Test func sha256KnownVectors() {
        #expect(Digest.sha256Hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Digest.sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.sha256Hex(Array("The quick brown fox jumps over the lazy dog".utf8))
            == "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592")
        #expect(Digest.sha256Hex(Array(repeating: UInt8(ascii: "a"), count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(Digest.sha256(Array("abc".utf8)).count == 32)
    }

    @Test func sha1KnownVectors() {
        #expect(Digest.hex(Digest.sha1(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(Digest.hex(Digest.sha1(Array("The quick brown fox jumps over the lazy dog".utf8)))
            == "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12")
        #expect(Digest.sha1([]).count == 20)
    }

    @Test func hex() {
        #expect(Digest.hex([]) == "")
        #expect(Digest.hex([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
    }
}

@Suite("Deflate")
struct DeflateTests {
    @Test func roundTrip() throws {
        let samples: [[UInt8]] = [
            [],
            [0],
            Array("hello".utf8),
            Array(repeating: 0x41, count: 100_000),
            (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) },
        ]
        for input in samples {
            for level: Int32 in [0, 1, 6, 9] {
                let packed = try Deflate.compress(input, level: level)
                #expect(try Deflate.decompress(packed, expectedSize: input.count) == input)
            }
        }
        let repetitive = Array(repeating: UInt8(ascii: "x"), count: 100_000)
        #expect(try Deflate.compress(repetitive).count < 1_000)
        // The output is a zlib stream (RFC 1950 header).
        #expect(try Deflate.compress(Array("abc".utf8)).first == 0x78)
    }

    @Test func snapshotPayloadRoundTrip() throws {
        let bytes = try DeclarativeRoundTripTests.content().canonicalBytes()
        let packed = try Deflate.compress(bytes)
        #expect(packed.count < bytes.count)
        let unpacked = try Deflate.decompress(packed, expectedSize: bytes.count)
        #expect(unpacked == bytes)
        #expect(try ConfigContent.decode(unpacked).canonicalBytes() == bytes)
    }

    @Test func wrongExpectedSize() throws {
        let input = Array("some payload to compress".utf8)
        let packed = try Deflate.compress(input)
        #expect(throws: Deflate.Failure.self) { try Deflate.decompress(packed, expectedSize: input.count - 1) }
        #expect(throws: Deflate.Failure.self) { try Deflate.decompress(packed, expectedSize: input.count + 1) }
        #expect(throws: Deflate.Failure.self) { try Deflate.decompress(packed, expectedSize: 0) }
        do {
            _ = try Deflate.decompress(packed, expectedSize: -1)
            Issue.record("expected a failure")
        } catch {
            #expect(error.description == "implausible snapshot size")
        }
        #expect(throws: Deflate.Failure.self) { try Deflate.decompress(packed, expectedSize: (1 << 31) + 1) }
    }

    /// Found while fuzzing the cluster frames: the output used to be allocated (and zeroed) at the announced size
    /// before inflating, so a snapshot frame announcing 2 GiB for a few bytes of payload cost 2 GiB of memory
    /// before it was refused. Now the output grows with the data, and the claim costs nothing.
    @Test func announcedSizeIsNotAllocatedUpFront() throws {
        let packed = try Deflate.compress(Array("tiny".utf8))
        let before = Self.peakResidentKB()
        for _ in 0..<4 {
            do {
                _ = try Deflate.decompress(packed, expectedSize: 1 << 31)
                Issue.record("expected a failure")
            } catch {
                #expect(error.description.contains("size differs"))
            }
        }
        #expect(Self.peakResidentKB() - before < 512 * 1024, "a claimed size was allocated")
        // Truncated streams and data beyond the stream's end.
        let big = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 11) }
        let bigPacked = try Deflate.compress(big)
        #expect(throws: Deflate.Failure.self) {
            try Deflate.decompress(Array(bigPacked.dropLast(100)), expectedSize: big.count)
        }
        #expect(try Deflate.decompress(bigPacked + [1, 2, 3], expectedSize: big.count) == big)
        #expect(throws: Deflate.Failure.self) { try Deflate.decompress(bigPacked, expectedSize: 1 << 30) }
    }

    /// The process's peak resident set (VmHWM, Linux); 0 elsewhere.
    static func peakResidentKB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return 0
    }

    @Test func corruptInput() throws {
        let input = Array(repeating: Array("portcullis ".utf8), count: 200).flatMap { $0 }
        let packed = try Deflate.compress(input)
        var flipped = packed
        flipped[flipped.count / 2] ^= 0xFF
        var badChecksum = packed
        badChecksum[badChecksum.count - 1] ^= 0x01
        for corrupt in [flipped, badChecksum, Array(packed.prefix(packed.count / 2)), [], [0x78],
                        Array("not zlib at all".utf8)] {
            #expect(throws: Deflate.Failure.self) { try Deflate.decompress(corrupt, expectedSize: input.count) }
        }
        do {
            _ = try Deflate.decompress(Array(packed.prefix(10)), expectedSize: input.count)
        } catch {
            #expect(error.description.hasPrefix("stored snapshot is corrupt (zlib "))
        }
    }
}

@Suite("UUIDString")
struct UUIDStringTests {
    @Test func validation() {
        #expect(UUIDString.isValid("7c3f0a4e-0000-4000-8000-000000000001"))
        #expect(UUIDString.isValid("7C3F0A4E-ABCD-4000-8000-00000000000F"))
        for bad in ["", "7c3f0a4e00004000800000000000000001", "7c3f0a4e-0000-4000-8000-00000000000",
                    "7c3f0a4e-0000-4000-8000-0000000000011", "7c3f0a4e_0000-4000-8000-000000000001",
                    "7c3f0a4e-0000-4000-8000-00000000000g", "{7c3f0a4e-0000-4000-8000-000000000001}",
                    "7c3f0a4e-0000-4000-8000-00000000000é", "7c3f-a4e-0000-4000-8000-000000000001",
                    "7c3f0a4e-0000-4000-8000-0000000-0001", "7c3f0a4e00000-4000-8000-000000000001"] {
            #expect(!UUIDString.isValid(bad), "\(bad)")
        }
    }

    @Test func random() {
        let ids = (0..<100).map { _ in UUIDString.random() }
        #expect(Set(ids).count == 100)
        for id in ids {
            #expect(UUIDString.isValid(id))
            #expect(id == id.lowercased())
            #expect(Array(id)[14] == "4")
        }
    }

    @Test(arguments: [
        ("", "522e62fe-5068-5eb2-8cae-efa2afa6679a"),
        ("services:name:echo-svc", "df3770a8-c61a-5d08-ba4b-9955bdc798b7"),
        ("routes:name:mtls", "a5680f98-6de7-55d5-9866-132cebbf4890"),
        ("consumers:username:client.example.com", "84399155-0e70-5628-afc1-946b45bac839"),
        ("ünïcode 😀", "526158d7-3434-525e-adf2-33ada559d546"),
    ])
    func v5MatchesRFC9562(name: String, expected: String) {
        // Expected values from Python's uuid.uuid5(UUID("5b6f0c51-3a2e-4d8a-9b10-6e27d44c901e"), name).
        #expect(UUIDString.v5(name) == expected)
    }

    @Test func v5FormatAndDeterminism() {
        for name in ["a", "b", "routes:name:x", String(repeating: "z", count: 10_000)] {
            let id = UUIDString.v5(name)
            let chars = Array(id)
            #expect(UUIDString.isValid(id))
            #expect(id == id.lowercased())
            #expect(chars[14] == "5", "version nibble")
            #expect("89ab".contains(chars[19]), "RFC 4122 variant")
            #expect(UUIDString.v5(name) == id)
        }
        #expect(UUIDString.v5("a") != UUIDString.v5("b"))
        #expect(UUIDString.v5("routes:name:x") != UUIDString.v5("services:name:x"))
        #expect(UUIDString.namespace.count == 16)
    }
}

@Suite("GatewayError")
struct GatewayErrorTests {
    @Test func kongShapes() {
        #expect(GatewayError.notFound.json == ["message": "Not found"])
        #expect(GatewayError.notFound.status == 404)
        #expect(GatewayError.primaryKeyViolation(Fixture.serviceID).json == [
            "code": 3, "name": "primary key violation",
            "message": .string("primary key violation on key '{id=\"\(Fixture.serviceID)\"}'"),
            "fields": ["id": .string(Fixture.serviceID)],
        ])
        let fk = GatewayError.foreignKeyViolation(field: "service", key: ["id": .string(Fixture.serviceID)],
                                                  parent: "services")
        #expect(fk.message
            == "the foreign key '{id=\"\(Fixture.serviceID)\"}' does not reference an existing 'services' entity.")
        #expect(fk.code == 4)
        #expect(fk.fields == ["service": ["id": .string(Fixture.serviceID)]])
        let unique = GatewayError.uniqueViolation(["name": "x"])
        #expect(unique.status == 409)
        #expect(unique.json == ["code": 5, "name": "unique constraint violation",
                                "message": "UNIQUE violation detected on '{name=\"x\"}'", "fields": ["name": "x"]])
        let db = GatewayError.database("disk I/O error")
        #expect(db.json == ["code": 8, "name": "database error", "message": "An unexpected error occurred"])
        #expect(GatewayError.declarative("x", fields: [:]).message == "declarative config is invalid: x")
        #expect(GatewayError.declarative("x", fields: [:]).code == 14)
        #expect(GatewayError.foreignKeyRestricted(parent: "services", child: "routes").message
            == "an existing 'routes' entity references this 'services' entity")
        #expect(GatewayError.invalidOffset("zz").message == "'zz' is not a valid offset: bad base64 or unknown position")
    }

    @Test func luaPretty() {
        #expect(LuaPretty.render(["b": 1, "a": ["x": nil], "c": [true, 1.5, "s"]])
            == #"{a={x=null},b=1,c={true,1.5,"s"}}"#)
        #expect(LuaPretty.render("s") == #""s""#)
        #expect(LuaPretty.render(nil) == "null")
    }
}
