/// An error that reaches an admin, the CLI or the wire, in Kong's shape: `{code, name, message, fields}` with
/// Kong's numeric codes, or a bare `{"message": …}` for transport-level answers (404, 405, 413, 415).
package struct GatewayError: Error, Sendable, CustomStringConvertible {
    package var status: Int
    package var code: Int?
    package var name: String?
    package var message: String
    package var fields: JSON?
    /// What went wrong internally, for the log; never sent to clients.
    package var detail: String?

    package init(status: Int, code: Int? = nil, name: String? = nil, message: String, fields: JSON? = nil,
                 detail: String? = nil)
    {
        self.status = status
        self.code = code
        self.name = name
        self.message = message
        self.fields = fields
        self.detail = detail
    }

    package var description: String { self.detail.map { "\(self.message): \($0)" } ?? self.message }

    package var json: JSON {
        var o: JSONObject = ["message": .string(self.message)]
        if let code { o["code"] = .int(Int64(code)) }
        if let name { o["name"] = .string(name) }
        if let fields { o["fields"] = fields }
        return .object(o)
    }

    // MARK: Kong's database error codes

    package static func schemaViolation(_ errors: ValidationErrors) -> GatewayError {
        GatewayError(status: 400, code: 2, name: "schema violation", message: errors.message, fields: errors.fieldsJSON)
    }

    package static func primaryKeyViolation(_ id: String) -> GatewayError {
        GatewayError(status: 400, code: 3, name: "primary key violation",
                     message: "primary key violation on key '{id=\"\(id)\"}'", fields: ["id": .string(id)])
    }

    package static func foreignKeyViolation(field: String, key: JSON, parent: String) -> GatewayError {
        GatewayError(
            status: 400, code: 4, name: "foreign key violation",
            message: "the foreign key '\(LuaPretty.render(key))' does not reference an existing '\(parent)' entity.",
            fields: .object([field: key]))
    }

    package static func foreignKeyRestricted(parent: String, child: String) -> GatewayError {
        GatewayError(
            status: 400, code: 4, name: "foreign key violation",
            message: "an existing '\(child)' entity references this '\(parent)' entity",
            fields: ["@referenced_by": .string(child)])
    }

    package static func uniqueViolation(_ key: JSONObject) -> GatewayError {
        GatewayError(status: 409, code: 5, name: "unique constraint violation",
                     message: "UNIQUE violation detected on '\(LuaPretty.render(.object(key)))'", fields: .object(key))
    }

    package static let notFound = GatewayError(status: 404, message: "Not found")

    package static func invalidOffset(_ offset: String) -> GatewayError {
        GatewayError(status: 400, code: 7, name: "invalid offset",
                     message: "'\(offset)' is not a valid offset: bad base64 or unknown position")
    }

    package static func invalidSize(_ message: String) -> GatewayError {
        GatewayError(status: 400, code: 9, name: "invalid size", message: message)
    }

    package static func invalidOptions(_ message: String, fields: JSON? = nil) -> GatewayError {
        GatewayError(status: 400, code: 11, name: "invalid options", message: message, fields: fields)
    }

    package static func declarative(_ message: String, fields: JSON) -> GatewayError {
        GatewayError(status: 400, code: 14, name: "invalid declarative configuration",
                     message: "declarative config is invalid: \(message)", fields: fields)
    }

    package static func database(_ detail: String) -> GatewayError {
        GatewayError(status: 500, code: 8, name: "database error", message: "An unexpected error occurred",
                     fields: nil, detail: detail)
    }

    package static func badRequest(_ message: String) -> GatewayError {
        GatewayError(status: 400, message: message)
    }
}

/// Renders values the way Kong's messages print Lua tables: `{name="x"}`, keys sorted, `null` for nulls.
package enum LuaPretty {
    package static func render(_ value: JSON) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return "\"\(s)\""
        case .array(let a): return "{" + a.map(self.render).joined(separator: ",") + "}"
        case .object(let o): return "{" + o.keys.sorted().map { "\($0)=\(self.render(o[$0] ?? .null))" }.joined(separator: ",") + "}"
        }
    }
}
