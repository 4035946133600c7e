/// The type of a schema field, with Kong's vocabulary: `set` is an array without duplicates, `record` a nested
/// object with its own fields, `foreign` a reference to another entity (`{"id": …}` in the admin API).
package indirect enum FieldType: Sendable {
    case string
    case integer
    case number
    case boolean
    case array(FieldSpec)
    case set(FieldSpec)
    case map(values: FieldSpec)
    case record([FieldSpec])
    case foreign(reference: String)
    /// Any JSON value, stored as given (for fields we carry but do not interpret, such as `ordering`).
    case any
}

/// A field of an entity or record schema, with Kong's constraints.
package struct FieldSpec: Sendable {
    package var name: String
    package var type: FieldType
    /// A required field must be present and non-null after defaults are applied.
    package var required: Bool = false
    package var defaultValue: JSON?
    package var oneOf: [JSON]?
    package var between: ClosedRange<Int64>?
    package var lenMin: Int?
    package var lenMax: Int?
    /// The field is filled by the gateway (ids, timestamps, digests); input values are checked, not required.
    package var generated: Bool = false
    /// Extra value check; returns a message when the value is not acceptable.
    package var check: (@Sendable (JSON) -> String?)?

    package init(
        _ name: String,
        _ type: FieldType,
        required: Bool = false,
        default defaultValue: JSON? = nil,
        oneOf: [JSON]? = nil,
        between: ClosedRange<Int64>? = nil,
        lenMin: Int? = nil,
        lenMax: Int? = nil,
        generated: Bool = false,
        check: (@Sendable (JSON) -> String?)? = nil
    ) {
        self.name = name
        self.type = type
        self.required = required
        self.defaultValue = defaultValue
        self.oneOf = oneOf
        self.between = between
        self.lenMin = lenMin
        self.lenMax = lenMax
        self.generated = generated
        self.check = check
    }

    /// An anonymous spec for array, set and map elements.
    package static func element(
        _ type: FieldType,
        oneOf: [JSON]? = nil,
        between: ClosedRange<Int64>? = nil,
        lenMin: Int? = nil,
        lenMax: Int? = nil,
        check: (@Sendable (JSON) -> String?)? = nil
    ) -> FieldSpec {
        FieldSpec("", type, oneOf: oneOf, between: between, lenMin: lenMin, lenMax: lenMax, check: check)
    }

    /// The default of a record field without an explicit default is the record of its fields' defaults.
    package var effectiveDefault: JSON? {
        if let defaultValue { return defaultValue }
        if case .record(let fields) = self.type, self.required {
            return .object(RecordDefaults.fill([:], fields: fields))
        }
        return nil
    }
}

enum RecordDefaults {
    /// Adds the defaults of every missing field; nested records are filled recursively.
    static func fill(_ object: JSONObject, fields: [FieldSpec]) -> JSONObject {
        var out = object
        for f in fields {
            if let present = out[f.name] {
                if case .record(let sub) = f.type, case .object(let o) = present {
                    out[f.name] = .object(self.fill(o, fields: sub))
                }
                continue
            }
            if let d = f.effectiveDefault {
                out[f.name] = d
            } else {
                out[f.name] = .null
            }
        }
        return out
    }
}
