import GatewayModel
import Testing

@Suite("ConfigContent")
struct ConfigContentTests {
    /// The store's view of a content: each entity's canonical JSON text, in id order.
    static func bodies(_ content: ConfigContent) -> [String: [[UInt8]]] {
        content.entities.mapValues { rows in rows.map { JSONWriter.bytes(.object($0)) } }
    }

    static func sample(trustedIPs: [String] = []) throws -> ConfigContent {
        let rich = try DeclarativeRoundTripTests.content()
        return ConfigContent(entities: rich.entities, trustedIPs: trustedIPs)
    }

    @Test(arguments: [[], ["10.0.0.0/8"], ["10.0.0.0/8", "::1/128", "192.0.2.7"]])
    func fastPathEqualsSlowPath(trustedIPs: [String]) throws {
        let content = try Self.sample(trustedIPs: trustedIPs)
        let fast = ConfigContent.canonicalBytes(rows: Self.bodies(content), trustedIPs: trustedIPs)
        #expect(fast == content.canonicalBytes())
    }

    @Test func fastPathForEmptyAndPartialContent() throws {
        for ips in [[], ["10.0.0.0/8"]] {
            let empty = ConfigContent(entities: [:], trustedIPs: ips)
            #expect(ConfigContent.canonicalBytes(rows: [:], trustedIPs: ips) == empty.canonicalBytes())
        }
        #expect(String(decoding: ConfigContent(entities: [:]).canonicalBytes(), as: UTF8.self)
            == #"{"_format_version":"3.0","ca_certificates":[],"consumers":[],"header_cert_auth_credentials":[],"#
            + #""plugins":[],"routes":[],"services":[]}"#)
        #expect(String(decoding: ConfigContent.canonicalBytes(rows: [:], trustedIPs: ["::1"]), as: UTF8.self)
            .hasPrefix(#"{"_format_version":"3.0","_trusted_ips":["::1"],"ca_certificates":[]"#))

        // Types missing from `bodies` are written as empty lists; keys that are not entity types are ignored.
        let content = try Self.sample()
        var bodies = Self.bodies(content)
        bodies["header_cert_auth_credentials"] = nil
        bodies["upstreams"] = [Array("{}".utf8)]
        let expected = ConfigContent(entities: content.entities.filter { $0.key != "header_cert_auth_credentials" })
        #expect(ConfigContent.canonicalBytes(rows: bodies, trustedIPs: []) == expected.canonicalBytes())
    }

    @Test func fastPathWithAwkwardStrings() throws {
        let consumer: JSONObject = [
            "id": .string(Fixture.consumerID), "username": "ünï \"quoted\" \\ / \u{1} 😀", "custom_id": nil,
            "tags": ["a\nb", "é"], "created_at": 1, "updated_at": 2,
        ]
        let content = ConfigContent(entities: ["consumers": [consumer]], trustedIPs: ["10.0.0.0/8"])
        #expect(ConfigContent.canonicalBytes(rows: Self.bodies(content), trustedIPs: ["10.0.0.0/8"])
            == content.canonicalBytes())
    }

    @Test func entitiesAreSortedByID() {
        let ids = ["c0000000-0000-4000-8000-000000000000", "a0000000-0000-4000-8000-000000000000",
                   "b0000000-0000-4000-8000-000000000000"]
        let content = ConfigContent(entities: ["consumers": ids.map { ["id": .string($0), "username": .string($0)] }])
        #expect(content["consumers"].map { $0["id"]!.stringValue! } == ids.sorted())
        let reversed = ConfigContent(entities: ["consumers": ids.reversed().map {
            ["id": .string($0), "username": .string($0)]
        }])
        #expect(content == reversed)
        #expect(content.canonicalBytes() == reversed.canonicalBytes())
        #expect(content["services"] == [])
        #expect(content["nonsense"] == [])
        // Types the registry does not know are dropped.
        #expect(ConfigContent(entities: ["upstreams": [["id": "x"]]]).entities["upstreams"] == nil)
    }

    @Test func decodeRoundTrip() throws {
        let content = try Self.sample(trustedIPs: ["10.0.0.0/8", "::1"])
        let bytes = content.canonicalBytes()
        let decoded = try ConfigContent.decode(bytes)
        #expect(decoded == content)
        #expect(decoded.trustedIPs == ["10.0.0.0/8", "::1"])
        #expect(decoded.canonicalBytes() == bytes)
        #expect(Digest.sha256Hex(decoded.canonicalBytes()) == Digest.sha256Hex(bytes))
    }

    @Test func decodeToleratesMissingTypesAndUnknownKeys() throws {
        let c = try ConfigContent.decode(Array(#"{"_format_version":"3.0","consumers":[{"id":"x"}],"extra":1}"#.utf8))
        #expect(c["consumers"] == [["id": "x"]])
        #expect(c["services"] == [])
        #expect(c.trustedIPs == [])
    }

    @Test(arguments: [
        ("not json", "snapshot payload is not JSON: "),
        ("[]", "snapshot payload is not an object"),
        (#"{"services":{}}"#, "services is not an array"),
        (#"{"routes":[1]}"#, "routes row is not an object"),
    ])
    func decodeErrors(text: String, prefix: String) {
        do {
            _ = try ConfigContent.decode(Array(text.utf8))
            Issue.record("expected a decode error for \(text)")
        } catch {
            #expect(error.description.hasPrefix(prefix), "\(error.description)")
        }
    }

    @Test func jsonShape() throws {
        let content = try Self.sample(trustedIPs: ["10.0.0.0/8"])
        let json = content.json
        #expect(json["_format_version"] == "3.0")
        #expect(json["_trusted_ips"] == ["10.0.0.0/8"])
        #expect(json["routes"]?.arrayValue?.count == content["routes"].count)
        #expect(ConfigContent(entities: [:]).json["_trusted_ips"] == nil)
    }
}

@Suite("ConfigDiff")
struct ConfigDiffTests {
    static let a = "a0000000-0000-4000-8000-000000000000"
    static let b = "b0000000-0000-4000-8000-000000000000"
    static let c = "c0000000-0000-4000-8000-000000000000"
    static let p = "d0000000-0000-4000-8000-000000000000"

    @Test func addedRemovedChanged() {
        let before = ConfigContent(entities: [
            "services": [
                ["id": .string(Self.a), "name": "one", "host": "h", "port": 80, "created_at": 1, "updated_at": 1],
                ["id": .string(Self.b), "name": "two", "host": "h", "created_at": 1, "updated_at": 1],
            ],
            "consumers": [["id": .string(Self.c), "username": "u", "custom_id": nil, "created_at": 1, "updated_at": 1]],
        ])
        let after = ConfigContent(entities: [
            "services": [
                // Changed host; the port as 80.0 is the same number; timestamps do not count.
                ["id": .string(Self.a), "name": "one", "host": "h2", "port": 80.0, "created_at": 5, "updated_at": 9],
                ["id": .string(Self.c), "name": "three", "host": "h", "created_at": 9, "updated_at": 9],
            ],
            // Only timestamps changed, and a null field went missing: no change.
            "consumers": [["id": .string(Self.c), "username": "u", "created_at": 7, "updated_at": 8]],
            "plugins": [["id": .string(Self.p), "name": "header-cert-auth", "instance_name": nil]],
        ])
        let diff = ConfigDiff.diff(from: before, to: after)
        #expect(diff == [
            "added": [
                "services": [["id": .string(Self.c), "name": "three"]],
                "plugins": [["id": .string(Self.p), "name": "header-cert-auth"]],
            ],
            "removed": ["services": [["id": .string(Self.b), "name": "two"]]],
            "changed": ["services": [[
                "id": .string(Self.a), "name": "one", "fields": ["host": ["old": "h", "new": "h2"]],
            ]]],
            "settings": [:],
            "summary": ["added": 2, "removed": 1, "changed": 1],
        ])
    }

    @Test func identicalContentHasNoDifferences() throws {
        let content = try ConfigContentTests.sample()
        let diff = ConfigDiff.diff(from: content, to: content)
        #expect(diff["summary"] == ["added": 0, "removed": 0, "changed": 0])
        #expect(diff["added"] == [:])
        #expect(diff["changed"] == [:])
    }

    @Test func reimportAtALaterTimeIsNotAChange() throws {
        let first = try DeclarativeRoundTripTests.content(now: 1000)
        let later = try DeclarativeRoundTripTests.content(now: 2000)
        #expect(first.canonicalBytes() != later.canonicalBytes())
        #expect(ConfigDiff.diff(from: first, to: later)["summary"] == ["added": 0, "removed": 0, "changed": 0])
    }

    @Test func nestedChangesAndSettings() {
        let id = JSON.string(Self.p)
        let before = ConfigContent(entities: ["plugins": [["id": id, "name": "header-cert-auth",
                                                            "instance_name": "x", "config": ["cache_ttl": 60]]]],
                                   trustedIPs: ["10.0.0.0/8"])
        let after = ConfigContent(entities: ["plugins": [["id": id, "name": "header-cert-auth",
                                                           "instance_name": "x", "config": ["cache_ttl": 30]]]])
        let diff = ConfigDiff.diff(from: before, to: after)
        #expect(diff["changed"] == ["plugins": [[
            "id": id, "name": "header-cert-auth", "instance_name": "x",
            "fields": ["config": ["old": ["cache_ttl": 60], "new": ["cache_ttl": 30]]],
        ]]])
        #expect(diff["settings"] == ["trusted_ips": ["old": ["10.0.0.0/8"], "new": []]])
        #expect(diff["summary"] == ["added": 0, "removed": 0, "changed": 1])
    }
}
