/// Every entity type the gateway stores, parents before children (the order imports and exports use).
package enum EntityRegistry {
    package static let all: [EntitySchema] = [
        .caCertificates, .services, .routes, .consumers, .plugins, .headerCertAuthCredentials,
    ]

    private static let byName: [String: EntitySchema] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    package static func schema(_ name: String) -> EntitySchema? { self.byName[name] }

    /// Children of `parent` through a foreign key: (child schema, foreign-key field).
    package static func children(of parent: String) -> [(EntitySchema, ForeignKey)] {
        self.all.flatMap { s in s.foreignKeys.filter { $0.reference == parent }.map { (s, $0) } }
    }
}
