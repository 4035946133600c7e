/// Each entity type's fields in canonical key order (UTF-8 byte order of their names), the order in which a
/// canonical row (``JSONWriter``) lists them: a snapshot row is checked against its schema member by member as it
/// is parsed (``JSONParser/parseRecord(_:fields:)``), with no field looked up by name.
package enum FieldTable {
    /// Per entity type with fixed fields; none for `plugins`, whose fields depend on the plugin named in the row.
    private static let byType: [String: [FieldSpec]] = {
        var out: [String: [FieldSpec]] = [:]
        for schema in EntityRegistry.all where schema.name != EntitySchema.plugins.name {
            out[schema.name] = schema.fields.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        }
        return out
    }()

    /// The fields of `type` in canonical key order, or nil when its rows have no fixed fields (or it is unknown).
    package static func canonical(_ type: String) -> [FieldSpec]? { self.byType[type] }
}
