extension PluginSchema {
    /// `request-termination` (Kong's bundled plugin, priority 2): answers requests in its scope with a fixed
    /// response. Fields, defaults and cross-field rules as in Kong's `schema.lua` for the plugin (3.x: `trigger`
    /// is a header or query argument name that must be present for the plugin to act).
    package static let requestTermination = PluginSchema(
        name: "request-termination",
        priority: 2,
        protocols: Typedefs.httpProtocols,
        noConsumer: false,
        config: [
            FieldSpec("status_code", .integer, required: true, default: 503, between: 100...599),
            FieldSpec("message", .string),
            FieldSpec("content_type", .string),
            FieldSpec("body", .string),
            FieldSpec("echo", .boolean, required: true, default: false),
            FieldSpec("trigger", .string, check: { v in v.stringValue.flatMap(Typedefs.headerNameProblem) }),
        ],
        check: { config, _, errors in
            func present(_ field: String) -> Bool { !(config[field]?.stringValue ?? "").isEmpty }
            if present("message"), present("content_type") || present("body") {
                errors["message"] = .message("message cannot be used with content_type or body")
            }
            if present("content_type"), !present("body") {
                errors["content_type"] = .message("content_type requires a body")
            }
            if config["echo"]?.boolValue == true, present("content_type") || present("body") {
                errors["echo"] = .message("echo cannot be used with content_type and body")
            }
        }
    )
}
