@testable import GatewayModel
import Testing

/// Rows checked against their schema as they are parsed (``JSONParser/parseRecord(_:fields:)``, ``FieldTable``)
/// and the fast row scanner: the verdicts must be the dictionary checks' own, and bad input an error.
@Suite("Record parsing and row scanning")
struct RecordParsingTests {
    static let now: Int64 = 1_800_000_000

    static func route(_ changes: JSONObject = [:]) -> JSONObject {
        var r: JSONObject = [
            "id": "5b6f0c51-3a2e-4d8a-9b10-6e27d44c901e", "created_at": 1, "updated_at": 2, "name": "r1",
            "protocols": ["http", "https"], "methods": .null, "hosts": .null, "paths": ["/a"], "headers": .null,
            "https_redirect_status_code": 426, "regex_priority": 0, "strip_path": true, "path_handling": "v0",
            "preserve_host": false, "request_buffering": true, "response_buffering": true, "snis": .null,
            "sources": .null, "destinations": .null, "tags": .null,
            "service": ["id": "0a6f0c51-3a2e-4d8a-9b10-6e27d44c901e"],
        ]
        for (k, v) in changes { r[k] = v }
        return r
    }

    static var columns: [FieldTable.Column] { FieldTable.canonical("routes") ?? [] }

    @Test func canonicalRowsConformAsTheyAreParsed() throws {
        let row = Self.route()
        #expect(SchemaValidator.recordConforms(row, fields: EntitySchema.routes.fields))
        let (object, conforms) = try JSONParser.parseRecord(JSONWriter.bytes(.object(row)), fields: Self.columns)
        #expect(object == row)
        #expect(conforms)
    }

    @Test func theVerdictIsTheDictionaryChecksOwn() throws {
        let cases: [JSONObject] = [
            Self.route(["paths": ["no-slash"]]), Self.route(["https_redirect_status_code": 200]),
            Self.route(["protocols": ["http", "http"]]), Self.route(["id": "not-a-uuid"]),
            Self.route(["strip_path": .null]), Self.route(["extra": 1]), Self.route(["name": ""]),
            Self.route(["service": ["id": "x", "name": "y"]]), Self.route(["regex_priority": 1.5]),
        ]
        for row in cases {
            let (object, conforms) = try JSONParser.parseRecord(JSONWriter.bytes(.object(row)), fields: Self.columns)
            #expect(object == row)
            #expect(!conforms)
            #expect(!SchemaValidator.recordConforms(row, fields: EntitySchema.routes.fields))
        }
        // A missing field: the member count differs.
        var missing = Self.route()
        missing["tags"] = nil
        #expect(try JSONParser.parseRecord(JSONWriter.bytes(.object(missing)), fields: Self.columns).conforms == false)
    }

    @Test func otherKeyOrdersAndRepeatsAreLeftToTheDictionaryCheck() throws {
        // Keys not in canonical order: no verdict (false), the object is the same.
        let canonical = String(decoding: JSONWriter.bytes(.object(Self.route())), as: UTF8.self)
        let first = "{\"created_at\":1,"
        #expect(canonical.hasPrefix(first))
        let reordered = "{" + canonical.dropFirst(first.count).dropLast() + ",\"created_at\":1}"
        let (object, conforms) = try JSONParser.parseRecord(Array(reordered.utf8), fields: Self.columns)
        #expect(object == Self.route())
        #expect(!conforms)
        // A repeated key keeps its last value, and is never taken as conforming.
        let repeated = "{\"created_at\":5," + canonical.dropFirst()
        let (again, repeatedConforms) = try JSONParser.parseRecord(Array(repeated.utf8), fields: Self.columns)
        #expect(again?["created_at"] == 1)
        #expect(!repeatedConforms)
    }

    @Test(arguments: ["", "{", "{\"id\":}", "{\"a\":1} x", "{\"a\":\"\\u12\"}", "[1,", "\"open"])
    func malformedRecordsAreErrors(text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parseRecord(Array(text.utf8), fields: Self.columns) }
    }

    @Test func aValueThatIsNotAnObjectIsNoRecord() throws {
        for text in ["[1]", "\"x\"", "null", "7"] {
            #expect(try JSONParser.parseRecord(Array(text.utf8), fields: Self.columns).object == nil)
        }
    }

    @Test func decodedRowsCarryTheVerdictAndValidationStillCatchesTheRest() throws {
        let document: JSON = [
            "_format_version": "3.0",
            "services": [["name": "s1", "url": "http://example.com", "routes": [["name": "r1", "paths": ["/a"]]]]],
        ]
        let good = try DeclarativeLoader.load(document, trustedIPs: [], now: Self.now).get()
        let decoded = try IncrementalDecoder.decode(good.canonicalBytes(), previous: nil)
        #expect(decoded.rows["routes"]?.first?.fieldsConform == true)
        #expect(decoded.rows["services"]?.first?.fieldsConform == true)
        #expect(ConfigValidator.problems(decoded, now: Self.now).isEmpty)
        // A bad field: not conforming as parsed, and reported by validation as before.
        var routes = good["routes"]
        routes[0]["paths"] = ["nope"]
        let bad = ConfigContent(entities: ["routes": routes, "services": good["services"]])
        let badDecoded = try IncrementalDecoder.decode(bad.canonicalBytes(), previous: nil)
        #expect(badDecoded.rows["routes"]?.first?.fieldsConform == false)
        let problems = ConfigValidator.problems(badDecoded, now: Self.now)
        #expect(problems == ConfigValidator.problems(bad, now: Self.now))
        #expect(problems.count == 1 && problems.first?.contains("paths") == true)
        // Conforming fields do not excuse references (nor entity checks).
        let dangling = ConfigContent(entities: ["routes": good["routes"]])
        let danglingDecoded = try IncrementalDecoder.decode(dangling.canonicalBytes(), previous: nil)
        #expect(danglingDecoded.rows["routes"]?.first?.fieldsConform == true)
        #expect(ConfigValidator.problems(danglingDecoded, now: Self.now).first?.contains("missing services") == true)
    }

    @Test(arguments: [
        "{\"consumers\":[{\"id\":\"a\\\"}]}", "{\"consumers\":[{\"id\":\"a\\", "{\"consumers\":[\"abc",
        "{\"consumers\":[{\"a\":[[[", "{\"consumers\":[1 2]}", "{\"consumers\":[,]}", "{\"consumers\":[}",
        "{\"consumers\":[" + String(repeating: "[", count: 300) + String(repeating: "]", count: 300) + "]}",
    ])
    func scannerRejectsBrokenDocuments(text: String) {
        #expect(throws: ConfigContent.DecodeError.self) { try IncrementalDecoder.decode(Array(text.utf8), previous: nil) }
    }

    @Test func scannerFindsRowsWithEscapesAndNesting() throws {
        let text = "{\"_format_version\":\"3.0\", \"consumers\" : [ {\"id\":\"a\\\\\",\"x\":{\"y\":[\"]\",\"}\"]}} ,"
            + "{\"id\":\"b\\\"]\"} ]}"
        var rows: [String] = []
        try RowScanner.walkDocument(Array(text.utf8)) { _, s throws(JSONParseError) in
            try s.elements { rows.append(String(decoding: $0, as: UTF8.self)) }
        } setting: { _, _ in }
        #expect(rows == ["{\"id\":\"a\\\\\",\"x\":{\"y\":[\"]\",\"}\"]}}", "{\"id\":\"b\\\"]\"}"])
    }

    @Test func bothRunsBothAndKeepsTheOrder() {
        let (a, b) = Parallel.both({ (0..<1000).reduce(0, +) }, { "second" })
        #expect(a == 499_500)
        #expect(b == "second")
    }
}
