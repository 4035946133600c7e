/// A validation failure for one field: a message, or nested failures for records, maps and list elements.
package indirect enum FieldError: Sendable, Equatable {
    case message(String)
    case fields([String: FieldError])
    case elements([Int: FieldError])

    var json: JSON {
        switch self {
        case .message(let m): return .string(m)
        case .fields(let f): return .object(JSONObject(f.mapValues(\.json)))
        case .elements(let e):
            guard let maxIndex = e.keys.max() else { return .array([]) }
            return .array((0...maxIndex).map { e[$0]?.json ?? .null })
        }
    }

    /// `path: message` lines, flattened with dots (`config.ca_certificates: required field missing`).
    func flatten(prefix: String, into out: inout [String]) {
        switch self {
        case .message(let m): out.append("\(prefix): \(m)")
        case .fields(let f):
            for k in f.keys.sorted() { f[k]?.flatten(prefix: prefix.isEmpty ? k : "\(prefix).\(k)", into: &out) }
        case .elements(let e):
            for k in e.keys.sorted() { e[k]?.flatten(prefix: "\(prefix)[\(k + 1)]", into: &out) }
        }
    }
}

/// Everything wrong with one entity: per-field errors plus entity-level ones (Kong's `@entity`).
package struct ValidationErrors: Error, Sendable, Equatable {
    package var fields: [String: FieldError] = [:]
    package var entity: [String] = []

    package init() {}

    package var isEmpty: Bool { self.fields.isEmpty && self.entity.isEmpty }

    package mutating func add(_ field: String, _ message: String) {
        if self.fields[field] == nil { self.fields[field] = .message(message) }
    }

    package mutating func add(_ field: String, _ error: FieldError) {
        if self.fields[field] == nil { self.fields[field] = error }
    }

    package mutating func addEntity(_ message: String) { self.entity.append(message) }

    /// Kong's `fields` object: the nested error map, entity-level errors under `@entity`.
    package var fieldsJSON: JSON {
        var o = JSONObject(self.fields.mapValues(\.json))
        if !self.entity.isEmpty { o["@entity"] = .array(self.entity.map(JSON.string)) }
        return .object(o)
    }

    /// The flat list of problems, entity-level first, then fields in name order.
    package var lines: [String] {
        var out = self.entity
        for k in self.fields.keys.sorted() { self.fields[k]?.flatten(prefix: k, into: &out) }
        return out
    }

    /// Kong's message: `schema violation (a: …)` or `N schema violations (a: …; b: …)`.
    package var message: String {
        let l = self.lines
        if l.count == 1 { return "schema violation (\(l[0]))" }
        return "\(l.count) schema violations (\(l.joined(separator: "; ")))"
    }
}
