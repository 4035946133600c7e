import GatewayModel
import Testing
import TestSupport

@Suite("Incremental snapshot decoding")
struct IncrementalDecoderTests {
    static let now: Int64 = 1_800_000_000

    static func content(consumers: [String], trusted: [String] = []) -> ConfigContent {
        let rows: [JSONObject] = consumers.enumerated().map { i, name in
            ["id": .string(UUIDString.v5("c:\(name)")), "username": .string(name), "custom_id": .null,
             "tags": i % 2 == 0 ? ["quo\"ted {x}", "[y]"] : .null, "created_at": 1, "updated_at": 2]
        }
        return ConfigContent(entities: ["consumers": rows], trustedIPs: trusted)
    }

    @Test func matchesTheFullDecoder() throws {
        for c in [Self.content(consumers: []), Self.content(consumers: ["a", "b\\c", "ü-ß"], trusted: ["10.0.0.0/8"])] {
            let bytes = c.canonicalBytes()
            let decoded = try IncrementalDecoder.decode(bytes, previous: nil)
            #expect(decoded.content == (try ConfigContent.decode(bytes)))
            #expect(decoded.content.canonicalBytes() == bytes)
            #expect(decoded.fresh["consumers"]?.count == c["consumers"].count)
        }
        let example = try DeclarativeLoader.load(
            try DeclarativeLoader.parseText(try Repo.text("examples/alb-mtls.yaml")), trustedIPs: [], now: Self.now).get()
        let bytes = example.canonicalBytes()
        #expect(try IncrementalDecoder.decode(bytes, previous: nil).content.canonicalBytes() == bytes)
        // Pretty-printed (whitespace everywhere) decodes the same.
        let pretty = JSONWriter.bytes(example.json, pretty: true)
        #expect(try IncrementalDecoder.decode(pretty, previous: nil).content.canonicalBytes() == bytes)
    }

    @Test func reusesUnchangedRowsOnly() throws {
        let first = try IncrementalDecoder.decode(Self.content(consumers: ["a", "b", "c"]).canonicalBytes(), previous: nil)
        let second = try IncrementalDecoder.decode(Self.content(consumers: ["a", "b", "d"]).canonicalBytes(),
                                                   previous: first)
        #expect(second.fresh["consumers"] == [UUIDString.v5("c:d")])
        #expect(second.content["consumers"].compactMap { $0["username"]?.stringValue }.sorted() == ["a", "b", "d"])
        let third = try IncrementalDecoder.decode(Self.content(consumers: ["a", "b", "d"]).canonicalBytes(),
                                                  previous: second)
        #expect(third.fresh["consumers"]?.isEmpty == true)
    }

    @Test(arguments: ["", "{", "[]", "{\"consumers\":[1]}", "{\"consumers\":[{\"id\":\"x\"}", "{\"consumers\":{}}",
                      "{\"consumers\":[]} x", "{\"_format_version\":\"3.0\",}"])
    func garbageIsAnError(text: String) {
        #expect(throws: ConfigContent.DecodeError.self) { try IncrementalDecoder.decode(Array(text.utf8), previous: nil) }
    }

    @Test func validationSkipsOnlyWhatCannotHaveChanged() throws {
        let content = Self.content(consumers: ["a", "b"])
        let decoded = try IncrementalDecoder.decode(content.canonicalBytes(), previous: nil)
        #expect(ConfigValidator.problems(decoded.content, now: Self.now, fresh: decoded.fresh).isEmpty)
        // A consumer that lost both keys is invalid whenever it is fresh…
        var rows = content["consumers"]
        rows[0]["username"] = .null
        let broken = ConfigContent(entities: ["consumers": rows])
        let id = rows[0]["id"]?.stringValue ?? ""
        #expect(!ConfigValidator.problems(broken, now: Self.now, fresh: ["consumers": [id]]).isEmpty)
        // …and still invalid through references and uniqueness even when not.
        var duplicate = content["consumers"]
        duplicate[0]["username"] = "same"
        duplicate[1]["username"] = "same"
        let dup = ConfigContent(entities: ["consumers": duplicate])
        #expect(!ConfigValidator.problems(dup, now: Self.now, fresh: ["consumers": []]).isEmpty)
    }
}
