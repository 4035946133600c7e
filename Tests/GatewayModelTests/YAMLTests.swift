import GatewayModel
import Testing

@Suite("YAML")
struct YAMLTests {
    @Test func coreSchemaTyping() throws {
        let v = try YAMLBridge.parse("""
            s: hello
            quoted_number: "3.0"
            version: 3.0
            int: 42
            neg: -7
            float: 1.5
            yes_bool: true
            no_bool: false
            null_tilde: ~
            null_word: null
            empty:
            list: [a, 1, true]
            block: |
              line 1
              line 2
            nested: {a: {b: [x]}}
            """)
        #expect(v == [
            "s": "hello", "quoted_number": "3.0", "version": 3.0, "int": 42, "neg": -7, "float": 1.5,
            "yes_bool": true, "no_bool": false, "null_tilde": nil, "null_word": nil, "empty": nil,
            "list": ["a", 1, true], "block": "line 1\nline 2\n", "nested": ["a": ["b": ["x"]]],
        ])
    }

    @Test func emptyDocumentIsNull() throws {
        #expect(try YAMLBridge.parse("") == .null)
        #expect(try YAMLBridge.parse("# only a comment\n") == .null)
    }

    @Test func syntaxErrors() {
        #expect(throws: YAMLBridge.Problem.self) { try YAMLBridge.parse("a: [1, 2") }
        #expect(throws: YAMLBridge.Problem.self) { try YAMLBridge.parse("a: 1\na: 2") }
        do {
            _ = try YAMLBridge.parse("key: : :\n  - bad")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.hasPrefix("invalid YAML: "))
        }
        #expect(throws: YAMLBridge.Problem.self) { try YAMLBridge.parse("? [a, b]\n: c") }
    }

    @Test func aliasesAreRejected() throws {
        for text in [
            "services: [{name: s, host: &h a}, {name: t, host: *h}]",
            "base: &b {host: a}\nother: *b",
            "list: &l [1, 2]\ncopy: *l",
            "base: &b {host: a}\nsvc:\n  <<: *b\n  name: s",
        ] {
            #expect(throws: YAMLBridge.Problem.self, "\(text)") { try YAMLBridge.parse(text) }
            do {
                _ = try YAMLBridge.parse(text)
            } catch {
                #expect(error.description == "YAML aliases are not supported")
            }
        }
        // An anchor nobody refers to is harmless, as is redefining one.
        #expect(try YAMLBridge.parse("a: &x 1\nb: 2") == ["a": 1, "b": 2])
        #expect(try YAMLBridge.parse("a: &x 1\nb: &x 2") == ["a": 1, "b": 2])
    }

    @Test func billionLaughsIsRejectedQuickly() throws {
        var text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1...9 {
            text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        #expect(throws: YAMLBridge.Problem.self) { try YAMLBridge.parse(text) }
    }

    @Test func declarativeParseText() throws {
        #expect(try DeclarativeLoader.parseText(#"{"_format_version": "3.0"}"#) == ["_format_version": "3.0"])
        #expect(try DeclarativeLoader.parseText("  \n{\"a\": [1]}") == ["a": [1]])
        #expect(try DeclarativeLoader.parseText("_format_version: \"3.0\"") == ["_format_version": "3.0"])
        // Not JSON but a YAML flow mapping.
        #expect(try DeclarativeLoader.parseText("{a: 1}") == ["a": 1])
        do {
            _ = try DeclarativeLoader.parseText("a: &x 1\nb: *x")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == 14)
            #expect(error.message == "declarative config is invalid: YAML aliases are not supported")
            #expect(error.fields == ["@entity": ["YAML aliases are not supported"]])
        }
        #expect(throws: GatewayError.self) { try DeclarativeLoader.parseText("a: [") }
    }

    @Test func emitRoundTrips() throws {
        let value: JSON = [
            "_format_version": "3.0",
            "strings_that_look_like_other_things": ["4711", "true", "null", "~", "3.0", "", " padded ", "yes", "0x1F",
                                                    "- dash", "a: b", "#hash", "*star", "&amp", "1e3", ".inf", "-.inf", ".nan",
                                                    "NaN", "0o17", "+1", "1_000", "1:20", "2001-12-14", "on",
                                                    "off", "Y", "n", "NULL", "False", "0.", "=", "<<", "!tag",
                                                    "%percent", "@at", "`tick", "{}", "[]", "'", "\"", "a\tb"],
            "pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "numbers": [0, -1, 1.5, 60000, 1e20, 1e-7, -0.5, .int(Int64.max), .int(Int64.min)],
            "bools": [true, false],
            "nothing": nil,
            "empty_list": [],
            "empty_map": [:],
            "unicode": "héllo 😀",
        ]
        let text = YAMLBridge.emit(value)
        #expect(text.contains("pem: |"))
        #expect(try YAMLBridge.parse(text) == value)
        // Keys come out sorted.
        let keys = text.split(separator: "\n").filter { !$0.hasPrefix(" ") && !$0.hasPrefix("-") }
            .compactMap { $0.split(separator: ":").first.map(String.init) }
        #expect(keys == keys.sorted())
    }
}
