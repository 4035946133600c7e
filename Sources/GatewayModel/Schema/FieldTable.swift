/// Each entity type's fields in canonical key order (UTF-8 byte order of their names), the order in which a
/// canonical row (``JSONWriter``) lists them: a snapshot row is checked against its schema member by member as it
/// is parsed (``JSONParser/parseRecord(_:fields:)``), with no field looked up by name.
package enum FieldTable {
    /// One field of a table. A class, so that walking a table hands out references, not copies of ``FieldSpec``.
    package final class Column: Sendable {
        package let name: String
        package let spec: FieldSpec
        /// What ``SchemaValidator/conforms(_:_:)`` says of null for this field, decided once.
        let acceptsNull: Bool

        init(_ spec: FieldSpec) {
            self.name = spec.name
            self.spec = spec
            self.acceptsNull = SchemaValidator.conforms(.null, spec)
        }

        /// ``SchemaValidator/conforms(_:_:)`` for this field (the spec read where it lies, not copied out).
        func conforms(_ value: JSON) -> Bool {
            if case .null = value { return self.acceptsNull }
            return SchemaValidator.conforms(value, self.spec)
        }
    }

    /// Per entity type with fixed fields; none for `plugins`, whose fields depend on the plugin named in the row.
    private static let byType: [String: [Column]] = {
        var out: [String: [Column]] = [:]
        for schema in EntityRegistry.all where schema.name != EntitySchema.plugins.name {
            let sorted = schema.fields.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
            out[schema.name] = sorted.map(Column.init)
        }
        return out
    }()

    /// The fields of `type` in canonical key order, or nil when its rows have no fixed fields (or it is unknown).
    package static func canonical(_ type: String) -> [Column]? { self.byType[type] }

}
