import GatewayModel
import Testing

@Suite("SchemaValidator")
struct SchemaValidatorTests {
    func check(_ value: JSON, _ spec: FieldSpec, coerce: Bool = false) -> (JSON, FieldError?) {
        SchemaValidator.process(value, spec, coerceStrings: coerce)
    }

    @Test func nullAndRequired() {
        #expect(self.check(nil, FieldSpec("x", .string)) == (.null, nil))
        #expect(self.check(nil, FieldSpec("x", .string, required: true)).1 == .message("required field missing"))
        // Generated fields are filled by the gateway, so a missing value is not an error.
        #expect(self.check(nil, FieldSpec("x", .string, required: true, generated: true)).1 == nil)
    }

    @Test func typeMismatches() {
        #expect(self.check(1, FieldSpec("x", .string)).1 == .message("expected a string"))
        #expect(self.check("1", FieldSpec("x", .integer)).1 == .message("expected an integer"))
        #expect(self.check(1.5, FieldSpec("x", .integer)).1 == .message("expected an integer"))
        #expect(self.check("1", FieldSpec("x", .number)).1 == .message("expected a number"))
        #expect(self.check("true", FieldSpec("x", .boolean)).1 == .message("expected a boolean"))
        #expect(self.check("a", FieldSpec("x", .array(.element(.string)))).1 == .message("expected an array"))
        #expect(self.check("a", FieldSpec("x", .set(.element(.string)))).1 == .message("expected a set"))
        #expect(self.check([], FieldSpec("x", .map(values: .element(.string)))).1 == .message("expected a map"))
        #expect(self.check(1, FieldSpec("x", .record([]))).1 == .message("expected a record"))
        #expect(self.check(.object(["anything": [1]]), FieldSpec("x", .any)).1 == nil)
    }

    @Test func integralDoublesAreIntegers() {
        #expect(self.check(5.0, FieldSpec("x", .integer)) == (.int(5), nil))
    }

    @Test func stringLength() {
        #expect(self.check("", FieldSpec("x", .string)).1 == .message("length must be at least 1"))
        #expect(self.check("ab", FieldSpec("x", .string, lenMin: 3)).1 == .message("length must be at least 3"))
        #expect(self.check("abcd", FieldSpec("x", .string, lenMax: 3)).1 == .message("length must be at most 3"))
        #expect(self.check("abc", FieldSpec("x", .string, lenMax: 3)).1 == nil)
    }

    @Test func between() {
        let spec = FieldSpec("x", .integer, between: 0...10)
        #expect(self.check(0, spec).1 == nil)
        #expect(self.check(10, spec).1 == nil)
        #expect(self.check(11, spec).1 == .message("value should be between 0 and 10"))
        #expect(self.check(-1, spec).1 == .message("value should be between 0 and 10"))
        let number = FieldSpec("x", .number, between: 0...10)
        #expect(self.check(10.5, number).1 == .message("value should be between 0 and 10"))
        #expect(self.check(9.5, number) == (.double(9.5), nil))
    }

    @Test func oneOfAndCustomCheck() {
        let spec = FieldSpec("x", .string, oneOf: ["a", "b"])
        #expect(self.check("c", spec).1 == .message("expected one of: a, b"))
        let ints = FieldSpec("x", .integer, oneOf: [1, 2])
        #expect(self.check(3, ints).1 == .message("expected one of: 1, 2"))
        #expect(self.check(2.0, ints).1 == nil)
        let checked = FieldSpec("x", .string, check: { $0 == "bad" ? "no thanks" : nil })
        #expect(self.check("bad", checked).1 == .message("no thanks"))
        #expect(self.check("ok", checked).1 == nil)
    }

    @Test func arraysReportElementErrorsByIndex() {
        let spec = FieldSpec("x", .array(.element(.integer, between: 0...5)))
        let (_, e) = self.check([1, 9, "a", nil], spec)
        #expect(e == .elements([
            1: .message("value should be between 0 and 5"),
            2: .message("expected an integer"),
            3: .message("required field missing"),
        ]))
    }

    @Test func setsDropDuplicates() {
        let spec = FieldSpec("x", .set(.element(.integer)))
        #expect(self.check([1, 2, 1, 2.0, 3], spec) == (.array([1, 2, 3]), nil))
        // Arrays keep them.
        #expect(self.check([1, 1], FieldSpec("x", .array(.element(.integer)))) == (.array([1, 1]), nil))
    }

    @Test func arrayLength() {
        let spec = FieldSpec("x", .set(.element(.string)), lenMin: 1, lenMax: 2)
        #expect(self.check([], spec).1 == .message("length must be at least 1"))
        #expect(self.check(["a", "b", "c"], spec).1 == .message("length must be at most 2"))
        // Length is counted after de-duplication.
        #expect(self.check(["a", "a", "b"], spec) == (.array(["a", "b"]), nil))
        let two = FieldSpec("x", .array(.element(.string)), lenMin: 2)
        #expect(self.check(["a"], two).1 == .message("length must be at least 2"))
    }

    @Test func maps() {
        let spec = FieldSpec("x", .map(values: .element(.integer)))
        #expect(self.check(["a": 1], spec) == (["a": 1], nil))
        #expect(self.check(["a": "x", "b": nil, "c": 2], spec).1 == .fields([
            "a": .message("expected an integer"),
            "b": .message("required field missing"),
        ]))
    }

    @Test func records() {
        let spec = FieldSpec("x", .record([FieldSpec("a", .integer, required: true), FieldSpec("b", .string)]))
        #expect(self.check(["a": 1], spec) == (["a": 1, "b": nil], nil))
        #expect(self.check(["b": "x", "zzz": 1], spec).1 == .fields([
            "a": .message("required field missing"),
            "zzz": .message("unknown field"),
        ]))
    }

    @Test func processRecordRejectsUnknownKeysAndReportsEachField() {
        let (result, errors) = SchemaValidator.processRecord(
            ["a": "x", "extra": true], fields: [FieldSpec("a", .integer), FieldSpec("b", .boolean, required: true)],
            coerceStrings: false)
        #expect(errors == [
            "a": .message("expected an integer"),
            "b": .message("required field missing"),
            "extra": .message("unknown field"),
        ])
        #expect(result["b"] == .null)
        #expect(result["extra"] == nil)
    }

    @Test func foreignReferences() {
        let spec = FieldSpec("service", .foreign(reference: "services"))
        #expect(self.check(["id": .string(Fixture.serviceID)], spec).1 == nil)
        #expect(self.check(["id": "nope"], spec).1 == .fields(["id": .message("expected a valid UUID")]))
        let message = #"expected a reference such as {"id": "<uuid>"}"#
        #expect(self.check("x", spec).1 == .message("expected a record"))
        #expect(self.check([:], spec).1 == .message(message))
        #expect(self.check(["id": "a", "name": "b"], spec).1 == .message(message))
        #expect(self.check(["id": ""], spec).1 == .message(message))
    }
}

@Suite("Form-string coercion")
struct CoercionTests {
    func coerce(_ value: JSON, _ spec: FieldSpec) -> (JSON, FieldError?) {
        SchemaValidator.process(value, spec, coerceStrings: true)
    }

    @Test func scalars() {
        #expect(self.coerce("5", FieldSpec("x", .integer)) == (.int(5), nil))
        #expect(self.coerce(" 7 ", FieldSpec("x", .integer)) == (.int(7), nil))
        #expect(self.coerce("x5", FieldSpec("x", .integer)).1 == .message("expected an integer"))
        #expect(self.coerce("2.5", FieldSpec("x", .number)) == (.double(2.5), nil))
        #expect(self.coerce("3", FieldSpec("x", .number)) == (.int(3), nil))
        #expect(self.coerce("true", FieldSpec("x", .boolean)) == (.bool(true), nil))
        #expect(self.coerce("FALSE", FieldSpec("x", .boolean)) == (.bool(false), nil))
        #expect(self.coerce("yes", FieldSpec("x", .boolean)).1 == .message("expected a boolean"))
        // Strings stay strings, even when they look like numbers.
        #expect(self.coerce("5", FieldSpec("x", .string)) == (.string("5"), nil))
    }

    @Test func emptyStringMeansNull() {
        #expect(self.coerce("", FieldSpec("x", .integer)) == (.null, nil))
        #expect(self.coerce("", FieldSpec("x", .boolean, required: true)).1 == .message("required field missing"))
        #expect(self.coerce("", FieldSpec("x", .array(.element(.string)))) == (.array([]), nil))
        #expect(self.coerce("", FieldSpec("x", .set(.element(.string)))) == (.array([]), nil))
        // A string field keeps the empty string, which then fails its length check.
        #expect(self.coerce("", FieldSpec("x", .string)).1 == .message("length must be at least 1"))
    }

    @Test func arraysFromRepeatedAndIndexedFields() {
        let paths = FieldSpec("paths", .array(.element(.string)))
        #expect(self.coerce("/a", paths) == (["/a"], nil))
        #expect(self.coerce(["2": "/b", "10": "/c", "1": "/a"], paths) == (["/a", "/b", "/c"], nil))
        #expect(self.coerce(["1": "/a", "x": "/b"], paths).1 == .message("expected an array"))
        let ports = FieldSpec("ports", .set(.element(.integer)))
        #expect(self.coerce(["80", "443", "80"], ports) == ([80, 443], nil))
    }

    @Test func foreignKeysFromStrings() {
        let spec = FieldSpec("service", .foreign(reference: "services"))
        #expect(self.coerce(.string(Fixture.serviceID), spec) == (["id": .string(Fixture.serviceID)], nil))
        #expect(self.coerce("my-service", spec) == (["name": "my-service"], nil))
    }

    @Test func nestedRecordsAreCoerced() {
        let spec = FieldSpec("config", .record([FieldSpec("n", .integer), FieldSpec("b", .boolean)]))
        #expect(self.coerce(["n": "12", "b": "true"], spec) == (["n": 12, "b": true], nil))
    }
}

@Suite("ValidationErrors")
struct ValidationErrorsTests {
    @Test func singleViolation() {
        var e = ValidationErrors()
        #expect(e.isEmpty)
        e.add("host", "required field missing")
        #expect(!e.isEmpty)
        #expect(e.message == "schema violation (host: required field missing)")
        #expect(e.fieldsJSON == ["host": "required field missing"])
    }

    @Test func firstErrorPerFieldWins() {
        var e = ValidationErrors()
        e.add("host", "first")
        e.add("host", "second")
        e.add("host", .fields(["x": .message("third")]))
        #expect(e.fields["host"] == .message("first"))
    }

    @Test func severalViolationsNestedAndEntityLevel() {
        var e = ValidationErrors()
        e.add("protocols", .elements([1: .message("expected one of: http, https")]))
        e.add("config", .fields([
            "secure_source": .message("bad"),
            "ca_certificates": .elements([0: .message("expected a valid UUID"), 2: .message("missing")]),
        ]))
        e.add("a", "first")
        e.addEntity("must set one of 'paths'")
        #expect(e.lines == [
            "must set one of 'paths'",
            "a: first",
            "config.ca_certificates[1]: expected a valid UUID",
            "config.ca_certificates[3]: missing",
            "config.secure_source: bad",
            "protocols[2]: expected one of: http, https",
        ])
        #expect(e.message == "6 schema violations (must set one of 'paths'; a: first; "
            + "config.ca_certificates[1]: expected a valid UUID; config.ca_certificates[3]: missing; "
            + "config.secure_source: bad; protocols[2]: expected one of: http, https)")
        #expect(e.fieldsJSON == [
            "@entity": ["must set one of 'paths'"],
            "a": "first",
            "config": [
                "secure_source": "bad",
                "ca_certificates": ["expected a valid UUID", nil, "missing"],
            ],
            "protocols": [nil, "expected one of: http, https"],
        ])
    }

    @Test func kongErrorBody() {
        var e = ValidationErrors()
        e.add("name", "unknown field")
        let body = GatewayError.schemaViolation(e)
        #expect(body.status == 400)
        #expect(body.json == [
            "code": 2, "name": "schema violation", "message": "schema violation (name: unknown field)",
            "fields": ["name": "unknown field"],
        ])
    }
}
