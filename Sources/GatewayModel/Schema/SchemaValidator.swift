/// Checks values against ``FieldSpec``s and returns them normalised (sets de-duplicated, form strings converted).
///
/// When `coerceStrings` is on (form-encoded admin requests, where every value arrives as text) a string is
/// converted to the field's type first: `"5"` to an integer, `"true"` to a boolean, `"/a"` to `["/a"]` for arrays,
/// and `""` to null.
package enum SchemaValidator {
    package static func process(_ value: JSON, _ spec: FieldSpec, coerceStrings: Bool) -> (JSON, FieldError?) {
        var value = value
        if coerceStrings { value = self.coerce(value, spec) }
        if value.isNull {
            return (.null, spec.required && !spec.generated ? .message("required field missing") : nil)
        }
        var out = value
        switch spec.type {
        case .any:
            break
        case .string:
            guard case .string(let s) = value else { return (value, .message("expected a string")) }
            let minimum = spec.lenMin ?? 1
            if s.count < minimum {
                return (value, .message(minimum == 1 ? "length must be at least 1" : "length must be at least \(minimum)"))
            }
            if let max = spec.lenMax, s.count > max { return (value, .message("length must be at most \(max)")) }
        case .integer:
            guard let i = value.intValue else { return (value, .message("expected an integer")) }
            out = .int(i)
            if let r = spec.between, !r.contains(i) {
                return (out, .message("value should be between \(r.lowerBound) and \(r.upperBound)"))
            }
        case .number:
            guard let d = value.doubleValue else { return (value, .message("expected a number")) }
            if let r = spec.between, d < Double(r.lowerBound) || d > Double(r.upperBound) {
                return (value, .message("value should be between \(r.lowerBound) and \(r.upperBound)"))
            }
        case .boolean:
            guard case .bool = value else { return (value, .message("expected a boolean")) }
        case .array(let element), .set(let element):
            let isSet: Bool
            if case .set = spec.type { isSet = true } else { isSet = false }
            guard case .array(let items) = value else {
                return (value, .message(isSet ? "expected a set" : "expected an array"))
            }
            var result: [JSON] = []
            var errors: [Int: FieldError] = [:]
            for (i, item) in items.enumerated() {
                let (v, e) = self.process(item, element, coerceStrings: coerceStrings)
                if item.isNull, e == nil {
                    errors[i] = .message("required field missing")
                    continue
                }
                if let e {
                    errors[i] = e
                    continue
                }
                if isSet, result.contains(where: { $0.semanticallyEquals(v) }) { continue }
                result.append(v)
            }
            if !errors.isEmpty { return (value, .elements(errors)) }
            if let min = spec.lenMin, result.count < min {
                return (.array(result), .message(min == 1 ? "length must be at least 1" : "length must be at least \(min)"))
            }
            if let max = spec.lenMax, result.count > max {
                return (.array(result), .message("length must be at most \(max)"))
            }
            out = .array(result)
        case .map(let valueSpec):
            guard case .object(let o) = value else { return (value, .message("expected a map")) }
            var result: JSONObject = [:]
            var errors: [String: FieldError] = [:]
            for (k, v) in o {
                let (nv, e) = self.process(v, valueSpec, coerceStrings: coerceStrings)
                if let e { errors[k] = e } else if v.isNull { errors[k] = .message("required field missing") } else {
                    result[k] = nv
                }
            }
            if !errors.isEmpty { return (value, .fields(errors)) }
            out = .object(result)
        case .record(let fields):
            guard case .object(let o) = value else { return (value, .message("expected a record")) }
            let (r, errors) = self.processRecord(o, fields: fields, coerceStrings: coerceStrings)
            if !errors.isEmpty { return (value, .fields(errors)) }
            out = .object(r)
        case .foreign:
            guard case .object(let o) = value else { return (value, .message("expected a record")) }
            let keys = Set(o.keys)
            guard keys.count == 1, let key = keys.first, let ref = o[key]?.stringValue, !ref.isEmpty else {
                return (value, .message("expected a reference such as {\"id\": \"<uuid>\"}"))
            }
            if key == "id", !UUIDString.isValid(ref) { return (value, .fields(["id": .message("expected a valid UUID")])) }
        }
        if let oneOf = spec.oneOf, !oneOf.contains(where: { $0.semanticallyEquals(out) }) {
            let names = oneOf.map { $0.stringValue ?? JSONWriter.string($0) }.joined(separator: ", ")
            return (out, .message("expected one of: \(names)"))
        }
        if let check = spec.check, let message = check(out) { return (out, .message(message)) }
        return (out, nil)
    }

    /// Validates an object against record fields: unknown keys are rejected, each field processed.
    /// Defaults are not applied here; callers fill them first (create) or merge with the stored entity (update).
    package static func processRecord(
        _ object: JSONObject,
        fields: [FieldSpec],
        coerceStrings: Bool
    ) -> (JSONObject, [String: FieldError]) {
        var result: JSONObject = [:]
        var errors: [String: FieldError] = [:]
        var known = Set<String>()
        for f in fields {
            known.insert(f.name)
            let (v, e) = self.process(object[f.name] ?? .null, f, coerceStrings: coerceStrings)
            if let e { errors[f.name] = e }
            result[f.name] = v
        }
        for k in object.keys where !known.contains(k) { errors[k] = .message("unknown field") }
        return (result, errors)
    }

    /// Converts form text to the field's type. Values that do not convert are left for validation to reject.
    static func coerce(_ value: JSON, _ spec: FieldSpec) -> JSON {
        switch (spec.type, value) {
        case (.string, _), (.any, _):
            return value
        case (_, .string("")):
            if case .array = spec.type { return .array([]) }
            if case .set = spec.type { return .array([]) }
            return .null
        case (.integer, .string(let s)):
            if let i = Int64(s.trimmingSpaces) { return .int(i) }
            return value
        case (.number, .string(let s)):
            if let i = Int64(s.trimmingSpaces) { return .int(i) }
            if let d = Double(s.trimmingSpaces), d.isFinite { return .double(d) }
            return value
        case (.boolean, .string(let s)):
            switch s.lowercased() {
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: return value
            }
        case (.array, .string), (.set, .string):
            return .array([value])
        case (.array, .object(let o)), (.set, .object(let o)):
            // `paths[1]=/a&paths[2]=/b` arrives as {"1": "/a", "2": "/b"}.
            let indexed = o.compactMap { k, v in Int(k).map { ($0, v) } }
            guard indexed.count == o.count else { return value }
            return .array(indexed.sorted { $0.0 < $1.0 }.map(\.1))
        case (.foreign, .string(let s)):
            return UUIDString.isValid(s) ? .object(["id": .string(s)]) : .object(["name": .string(s)])
        default:
            return value
        }
    }
}

extension String {
    var trimmingSpaces: Substring {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
