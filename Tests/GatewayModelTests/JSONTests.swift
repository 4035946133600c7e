import GatewayModel
import Testing

@Suite("JSON parser")
struct JSONParserTests {
    @Test func scalarsAndContainers() throws {
        #expect(try JSONParser.parse("null") == .null)
        #expect(try JSONParser.parse("true") == .bool(true))
        #expect(try JSONParser.parse(" false ") == .bool(false))
        #expect(try JSONParser.parse("\"hi\"") == .string("hi"))
        #expect(try JSONParser.parse("[]") == .array([]))
        #expect(try JSONParser.parse("{}") == .object([:]))
        #expect(try JSONParser.parse("\t\r\n[1, \"a\", null, {\"k\": [true]}]\n")
            == .array([.int(1), .string("a"), .null, .object(["k": .array([.bool(true)])])]))
    }

    @Test func integersAndDoublesAreKeptApart() throws {
        #expect(try JSONParser.parse("0") == .int(0))
        #expect(try JSONParser.parse("-0") == .int(0))
        #expect(try JSONParser.parse("42") == .int(42))
        #expect(try JSONParser.parse("-17") == .int(-17))
        #expect(try JSONParser.parse("9223372036854775807") == .int(Int64.max))
        #expect(try JSONParser.parse("-9223372036854775808") == .int(Int64.min))
        // One past Int64.max no longer fits: it becomes a double.
        #expect(try JSONParser.parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
        #expect(try JSONParser.parse("1.5") == .double(1.5))
        #expect(try JSONParser.parse("1.0") == .double(1.0))
        #expect(try JSONParser.parse("1e3") == .double(1000))
        #expect(try JSONParser.parse("-2.5E-2") == .double(-0.025))
        #expect(try JSONParser.parse("1E+2") == .double(100))
    }

    @Test func stringEscapes() throws {
        #expect(try JSONParser.parse(#""a\"b\\c\/d\b\f\n\r\t""#) == .string("a\"b\\c/d\u{8}\u{c}\n\r\t"))
        #expect(try JSONParser.parse(#""\u00e9\u4e2d""#) == .string("é中"))
        #expect(try JSONParser.parse(#""\uD83D\uDE00""#) == .string("😀"))
        #expect(try JSONParser.parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try JSONParser.parse("\"héllo wörld 😀\"") == .string("héllo wörld 😀"))
        // Escapes after raw UTF-8 keep the raw part intact.
        #expect(try JSONParser.parse(#""ü\n""#) == .string("ü\n"))
    }

    @Test func duplicateKeysKeepTheLastValue() throws {
        #expect(try JSONParser.parse(#"{"a":1,"a":2}"#) == .object(["a": .int(2)]))
        // Schema field names take the shared-string path; repeats still keep the last value.
        #expect(try JSONParser.parse(#"{"paths":1,"name":"x","paths":2}"#) == .object(["paths": .int(2), "name": "x"]))
    }

    /// Keys that are schema field names, near misses, escaped and non-ASCII keys, and objects nested in objects
    /// (members of every level share one stack) all parse to the same values.
    @Test func objectKeysAndNesting() throws {
        let text = #"""
            {"id":"a","i":1,"idx":2,"https_redirect_status_code":426,"https_redirect_status_codf":1,
             "pat\u0068s":["/a"],"nämé":true,"":null,"service":{"id":"s","name":{"id":{}}},"tags":[{"a":{"b":[]}},{}],
             "strip_path":false}
            """#
        let expected: JSON = [
            "id": "a", "i": 1, "idx": 2, "https_redirect_status_code": 426, "https_redirect_status_codf": 1,
            "paths": ["/a"], "nämé": true, "": nil, "service": ["id": "s", "name": ["id": [:]]],
            "tags": [["a": ["b": []]], [:]], "strip_path": false,
        ]
        #expect(try JSONParser.parse(text) == expected)
    }

    @Test func integerEdges() throws {
        #expect(try JSONParser.parse("999999999999999999") == .int(999_999_999_999_999_999))
        #expect(try JSONParser.parse("-999999999999999999") == .int(-999_999_999_999_999_999))
        #expect(try JSONParser.parse("1000000000000000000") == .int(1_000_000_000_000_000_000))
        #expect(try JSONParser.parse("[-0,0,7,-7]") == [0, 0, 7, -7])
    }

    @Test(arguments: [
        ("", "unexpected end of input"),
        ("   ", "unexpected end of input"),
        ("nul", "invalid literal"),
        ("tru", "invalid literal"),
        ("trUe", "invalid literal"),
        ("01", "leading zero in number"),
        ("-01", "leading zero in number"),
        ("00.5", "leading zero in number"),
        ("-", "invalid number"),
        ("1.", "invalid number"),
        (".5", "unexpected character"),
        ("1e", "invalid number"),
        ("+1", "unexpected character"),
        ("1e400", "number out of range"),
        ("NaN", "unexpected character"),
        ("[1,]", "unexpected character"),
        ("[1 2]", "expected ',' or ']'"),
        ("{\"a\" 1}", "expected ':'"),
        ("{\"id\" 1}", "expected ':'"),
        ("{\"id", "unterminated string"),
        ("{\"a\":1,}", "expected a string key"),
        ("{a:1}", "expected a string key"),
        ("{\"a\":1 \"b\":2}", "expected ',' or '}'"),
        ("[1", "unexpected end of input"),
        ("\"abc", "unterminated string"),
        ("\"a\u{1}b\"", "control character in string"),
        ("\"tab\there\"", "control character in string"),
        ("\"\\x\"", "invalid escape"),
        ("\"\\u12zz\"", "invalid \\u escape"),
        ("\"\\u12", "truncated \\u escape"),
        ("\"\\uD800\"", "unpaired surrogate"),
        ("\"\\uD800\\u0041\"", "unpaired surrogate"),
        ("\"\\uDC00\"", "unpaired surrogate"),
        ("1 2", "unexpected data after the JSON value"),
        ("{} x", "unexpected data after the JSON value"),
        ("'a'", "unexpected character"),
    ])
    func rejectsMalformedInput(text: String, reason: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
        do {
            _ = try JSONParser.parse(text)
        } catch {
            #expect(error.reason == reason, "input \(text.debugDescription)")
        }
    }

    @Test func errorCarriesTheByteOffset() {
        do {
            _ = try JSONParser.parse("[1, 2, x]")
            Issue.record("expected a parse error")
        } catch {
            #expect(error.offset == 7)
            #expect(error.description == "unexpected character at byte 7")
        }
    }

    @Test func rejectsInvalidUTF8() {
        let bytes: [UInt8] = [0x22, 0xC3, 0x28, 0x22]  // a truncated two-byte sequence inside a string
        do {
            _ = try JSONParser.parse(bytes)
            Issue.record("expected a parse error")
        } catch {
            #expect(error.reason == "invalid UTF-8 in string")
            #expect(error.offset == 1)
        }
        let escaped: [UInt8] = Array(#""\n"#.utf8) + [0xFF, 0x22]
        #expect(throws: JSONParseError.self) { try JSONParser.parse(escaped) }
    }

    @Test func nestingIsBoundedAtMaxDepth() throws {
        let ok = String(repeating: "[", count: JSONParser.maxDepth) + String(repeating: "]", count: JSONParser.maxDepth)
        #expect(throws: Never.self) { try JSONParser.parse(ok) }
        let deep = String(repeating: "[", count: JSONParser.maxDepth + 1)
            + String(repeating: "]", count: JSONParser.maxDepth + 1)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        do {
            _ = try JSONParser.parse(deep)
        } catch {
            #expect(error.reason == "nesting deeper than 200 levels")
        }
        // A hostile document far deeper than the limit fails cleanly instead of exhausting the stack.
        let hostile = String(repeating: "{\"a\":", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(hostile) }
    }
}

@Suite("JSON writer")
struct JSONWriterTests {
    @Test func keysAreSortedByUTF8Bytes() {
        let value: JSON = ["b": 1, "a": 2, "B": 3, "é": 4, "_x": 5, "aa": 6]
        #expect(JSONWriter.string(value) == #"{"B":3,"_x":5,"a":2,"aa":6,"b":1,"é":4}"#)
    }

    @Test func equalValuesGiveEqualBytes() {
        var a: JSONObject = [:]
        var b: JSONObject = [:]
        for i in 0..<50 { a["k\(i)"] = .int(Int64(i)) }
        for i in (0..<50).reversed() { b["k\(i)"] = .int(Int64(i)) }
        #expect(JSONWriter.bytes(.object(a)) == JSONWriter.bytes(.object(b)))
    }

    @Test func stringEscaping() {
        #expect(JSONWriter.string("a\"b\\c") == #""a\"b\\c""#)
        #expect(JSONWriter.string("/path/x") == #""/path/x""#)
        #expect(JSONWriter.string("l1\nl2\r\t") == #""l1\nl2\r\t""#)
        #expect(JSONWriter.string("\u{1}\u{1f}\u{7f}") == #""\u0001\u001f\u007f""#)
        #expect(JSONWriter.string("é😀") == "\"é😀\"")
    }

    @Test func numbers() {
        #expect(JSONWriter.string(.int(-5)) == "-5")
        #expect(JSONWriter.string(.int(Int64.min)) == "-9223372036854775808")
        #expect(JSONWriter.string(.double(1.5)) == "1.5")
        // Integral doubles are written without a fraction, so 1 and 1.0 encode alike.
        #expect(JSONWriter.string(.double(60000)) == "60000")
        #expect(JSONWriter.string(.double(-0.0)) == "0")
        #expect(JSONWriter.string(.double(0.1)) == "0.1")
        #expect(JSONWriter.string(.double(1e20)) == "1e+20")
        #expect(JSONWriter.string(.double(.infinity)) == "null")
        #expect(JSONWriter.string(.double(.nan)) == "null")
    }

    @Test func pretty() {
        let value: JSON = ["b": [1, 2], "a": [:], "c": []]
        #expect(JSONWriter.string(value, pretty: true) == """
            {
              "a": {},
              "b": [
                1,
                2
              ],
              "c": []
            }

            """)
    }

    @Test func roundTripsThroughTheParser() throws {
        let value: JSON = [
            "s": "tab\tquote\"slash/\\ é 😀 \u{0}",
            "n": [0, -1, 1.25, 1e-7, .int(Int64.max)],
            "o": ["nested": ["deep": [nil, true, false]]],
        ]
        let parsed = try JSONParser.parse(JSONWriter.bytes(value))
        #expect(parsed == value)
        let prettyParsed = try JSONParser.parse(JSONWriter.string(value, pretty: true))
        #expect(prettyParsed == value)
    }
}

@Suite("JSON value")
struct JSONValueTests {
    @Test func accessors() {
        let v: JSON = ["a": 1, "b": "x", "c": [true], "d": 2.0, "e": nil]
        #expect(v["a"]?.intValue == 1)
        #expect(v["b"]?.stringValue == "x")
        #expect(v["c"]?.arrayValue == [.bool(true)])
        #expect(v["d"]?.intValue == 2)
        #expect(v["d"]?.doubleValue == 2.0)
        #expect(JSON.double(2.5).intValue == nil)
        #expect(v["e"]?.isNull == true)
        #expect(v["missing"] == nil)
        #expect(JSON.string("x")["a"] == nil)
        #expect(JSON.int(1).stringValue == nil)
        #expect(JSON.bool(true).boolValue == true)
        #expect(v.objectValue?.count == 5)
    }

    @Test func subscriptSetter() {
        var v: JSON = ["a": 1]
        v["b"] = "x"
        v["a"] = nil
        #expect(v == ["b": "x"])
        var s: JSON = "not an object"
        s["a"] = 1
        #expect(s == "not an object")
    }

    @Test func typeNames() {
        let names = [JSON.null, true, 1, 1.5, "s", [], [:]].map(\.typeName)
        #expect(names == ["null", "boolean", "integer", "number", "string", "array", "object"])
    }

    @Test func semanticEqualityTreatsIntAndDoubleAlike() {
        #expect(JSON.int(1).semanticallyEquals(.double(1.0)))
        #expect(!(JSON.int(1) == JSON.double(1.0)))
        #expect((["a": [1, 2]] as JSON).semanticallyEquals(["a": [1.0, 2.0]]))
        #expect(!(["a": [1, 2]] as JSON).semanticallyEquals(["a": [2, 1]]))
        #expect(!(["a": 1] as JSON).semanticallyEquals(["a": 1, "b": 2]))
        #expect(!(["a": 1] as JSON).semanticallyEquals(["b": 1]))
        #expect(!JSON.string("1").semanticallyEquals(.int(1)))
    }
}

@Suite("JSON object")
struct JSONObjectTests {
    /// Keys that sort differently by bytes and by other orders: case, a prefix, multi-byte UTF-8 (é is C3 A9, so
    /// after every ASCII key), and an empty key.
    static let keys = ["b", "B", "a", "ab", "é", "z", "", "https_redirect_status_code", "id", "zé"]

    @Test func keysAreKeptInByteOrderWhateverTheInsertionOrder() {
        let byBytes = Self.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var inserted = JSONObject()
        for (i, k) in Self.keys.enumerated() { inserted[k] = .int(Int64(i)) }
        let fromPairs = JSONObject(Self.keys.reversed().map { ($0, JSON.int(Int64(Self.keys.firstIndex(of: $0) ?? 0))) })
        #expect(inserted.keys == byBytes)
        #expect(fromPairs.keys == byBytes)
        #expect(inserted == fromPairs)
        #expect(inserted.hashValue == fromPairs.hashValue)
        for (i, k) in Self.keys.enumerated() { #expect(inserted[k] == .int(Int64(i)), "\(k)") }
    }

    /// Keys whose first eight bytes are equal (so the kept head cannot order them): longer keys with a common
    /// prefix, and short keys that differ only by trailing NUL bytes.
    @Test func keysWithEqualHeadsAreOrderedAndFoundByTheirBytes() throws {
        let keys = ["request_buffering", "request_b", "request_", "request", "request_bufferinh", "ab", "ab\u{0}",
                    "ab\u{0}\u{0}", "a", "https_redirect_status_code", "https_redirect"]
        var o = JSONObject()
        for (i, k) in keys.enumerated().reversed() { o[k] = .int(Int64(i)) }
        #expect(o.keys == keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        for (i, k) in keys.enumerated() { #expect(o[k] == .int(Int64(i)), "\(k.debugDescription)") }
        for absent in ["request_bufferin", "ab\u{0}\u{0}\u{0}", "request_c", "https_redirect_status_codf", ""] {
            #expect(o[absent] == nil, "\(absent.debugDescription)")
        }
        #expect(try JSONParser.parse(JSONWriter.bytes(.object(o))) == .object(o))
    }

    @Test func anAbsentMemberIsNilAndANullMemberIsNull() {
        var o: JSONObject = ["present": .null, "one": 1]
        #expect(o["present"] == .some(.null))
        #expect(o["absent"] == nil)
        #expect(o.count == 2)
        o["one"] = nil
        #expect(o["one"] == nil)
        #expect(o.keys == ["present"])
        #expect(o.removeValue(forKey: "absent") == nil)
        #expect(o.removeValue(forKey: "present") == .some(.null))
        #expect(o.isEmpty)
    }

    @Test func aRepeatedKeyKeepsItsLastValue() throws {
        #expect(JSONObject([("k", 1), ("j", 2), ("k", 3), ("k", 4)]) == ["j": 2, "k": 4])
        let literal: JSONObject = ["k": 1, "k": 2]
        #expect(literal["k"] == 2)
        #expect(try JSONParser.parse(#"{"b": 1, "a": 2, "b": 3, "a": 4, "c": 5}"#) == .object(["a": 4, "b": 3, "c": 5]))
    }

    @Test func keysDifferingOnlyInNormalisationAreTwoKeys() {
        // "é" precomposed (U+00E9) and decomposed (e + U+0301): equal as Swift strings, different bytes.
        let o = JSONObject([("\u{E9}", 1), ("e\u{301}", 2)])
        #expect(o.count == 2)
        #expect(o["\u{E9}"] == 1)
        #expect(o["e\u{301}"] == 2)
        #expect(JSONWriter.string(.object(o)) == "{\"e\u{301}\":2,\"\u{E9}\":1}")
    }

    @Test func dictionaryOperationsKeepTheOrder() {
        let o: JSONObject = ["c": 3, "a": 1, "b": 2]
        #expect(o.mapValues { .int(($0.intValue ?? 0) * 10) } == ["a": 10, "b": 20, "c": 30])
        #expect(o.compactMapValues { $0 == 2 ? JSON?.none : $0 } == ["a": 1, "c": 3])
        #expect(o.filter { $0.key != "a" } == ["b": 2, "c": 3])
        #expect(o.merging(["d": 4, "a": 9]) { old, _ in old } == ["a": 1, "b": 2, "c": 3, "d": 4])
        #expect(o.merging(["a": 9]) { _, new in new }["a"] == 9)
        #expect(o.map(\.key) == ["a", "b", "c"])
        #expect(o.values == [1, 2, 3])
        #expect(JSONObject(["y": 1, "x": 2] as [String: Int]) { .int(Int64($0)) }.keys == ["x", "y"])
    }

    @Test func aLargeObjectOutOfOrderIsSortedOnceAndFound() throws {
        // Keys in descending order: the parser sorts them once (not one insertion at a time).
        let n = 20_000
        let key = { (i: Int) in "k" + String(repeating: "0", count: 6 - String(i).count) + String(i) }
        let text = "{" + (0..<n).reversed().map { "\"\(key($0))\": \($0)" }.joined(separator: ",") + "}"
        let parsed = try #require(try JSONParser.parse(text).objectValue)
        #expect(parsed.count == n)
        #expect(parsed.keys == parsed.keys.sorted())
        for i in stride(from: 0, to: n, by: 997) { #expect(parsed[key(i)] == .int(Int64(i))) }
        #expect(parsed["k"] == nil)
        #expect(parsed["k999999"] == nil)
    }
}
