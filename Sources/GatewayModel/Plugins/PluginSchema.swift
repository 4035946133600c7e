/// The admin-time half of a plugin (Kong's `schema.lua`): its config fields, defaults and checks. The data plane
/// holds the run-time half and looks schemas up by ``name``.
package struct PluginSchema: Sendable {
    package var name: String
    /// Kong's fixed handler priority; higher runs earlier in the access phase.
    package var priority: Int
    /// Protocols the plugin can run on; also the default of the plugin entity's `protocols`.
    package var protocols: [JSON]
    /// The plugin cannot be scoped to a consumer (Kong's `typedefs.no_consumer`).
    package var noConsumer: Bool
    package var config: [FieldSpec]
    /// Cross-field checks on a config whose fields are individually valid.
    package var check: @Sendable (_ config: JSONObject, _ context: ValidationContext, _ errors: inout [String: FieldError]) -> Void

    /// Every plugin this gateway can run, by name.
    package static let available: [String: PluginSchema] = [
        PluginSchema.headerCertAuth.name: .headerCertAuth,
        PluginSchema.requestTermination.name: .requestTermination,
    ]
}
