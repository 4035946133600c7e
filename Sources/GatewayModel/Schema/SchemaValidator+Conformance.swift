extension SchemaValidator {
    /// Whether ``process(_:_:coerceStrings:)`` (without string coercion) accepts `value` and returns it unchanged.
    ///
    /// The check-only path for rows that are canonical already (a data plane validating a snapshot): it runs every
    /// check `process` runs — types, lengths, ranges, `oneOf`, the fields' own checks — but builds nothing. It never
    /// says yes when `process` would report an error or change the value (a set with a repeated element, an integral
    /// double in an integer field, a missing record field). It may say no to some values `process` accepts as they
    /// are; callers then run `process` for the verdict and the messages.
    package static func conforms(_ value: JSON, _ spec: FieldSpec) -> Bool {
        switch value {
        case .null:
            return !(spec.required && !spec.generated)
        default:
            break
        }
        switch spec.type {
        case .any:
            break
        case .string:
            guard case .string(let s) = value, Self.lengthConforms(s, spec) else { return false }
        case .integer:
            guard case .int(let i) = value else { return false }
            if let r = spec.between, !r.contains(i) { return false }
        case .number:
            guard let d = value.doubleValue else { return false }
            if let r = spec.between, d < Double(r.lowerBound) || d > Double(r.upperBound) { return false }
        case .boolean:
            guard case .bool = value else { return false }
        case .array(let element), .set(let element):
            guard case .array(let items) = value else { return false }
            for (i, item) in items.enumerated() {
                // A null element is an error even where the element spec allows null.
                if item.isNull || !self.conforms(item, element) { return false }
                if case .set = spec.type, items[..<i].contains(where: { $0.semanticallyEquals(item) }) { return false }
            }
            if let min = spec.lenMin, items.count < min { return false }
            if let max = spec.lenMax, items.count > max { return false }
        case .map(let valueSpec):
            guard case .object(let o) = value else { return false }
            for (_, v) in o where v.isNull || !self.conforms(v, valueSpec) { return false }
        case .record(let fields):
            guard case .object(let o) = value, self.recordConforms(o, fields: fields) else { return false }
        case .foreign:
            guard case .object(let o) = value, o.count == 1, let (key, ref) = o.first, let id = ref.stringValue,
                !id.isEmpty
            else { return false }
            if key == "id", !UUIDString.isValid(id) { return false }
        }
        if let oneOf = spec.oneOf, !oneOf.contains(where: { $0.semanticallyEquals(value) }) { return false }
        if let check = spec.check, check(value) != nil { return false }
        return true
    }

    /// Whether ``processRecord(_:fields:coerceStrings:)`` (without string coercion) reports no error and returns
    /// `object` unchanged: every field present (null where it has no value), no other key, every value conforming
    /// (``conforms(_:_:)``). Field names are distinct in every schema, so equal counts mean no unknown key.
    package static func recordConforms(_ object: JSONObject, fields: [FieldSpec]) -> Bool {
        guard object.count == fields.count else { return false }
        // Read in place, not copied out one by one.
        return fields.withUnsafeBufferPointer { specs in
            for i in specs.indices {
                guard let v = object[specs[i].name], self.conforms(v, specs[i]) else { return false }
            }
            return true
        }
    }

    /// The string length rules of ``process(_:_:coerceStrings:)``, counting characters only when the UTF-8 length
    /// cannot decide (a character is at least one byte).
    private static func lengthConforms(_ s: String, _ spec: FieldSpec) -> Bool {
        let bytes = s.utf8.count
        let minimum = spec.lenMin ?? 1
        if bytes < minimum { return false }
        if minimum > 1, s.count < minimum { return false }
        if let max = spec.lenMax, bytes > max, s.count > max { return false }
        return true
    }
}
