import GRDB
import GatewayModel

/// How one entity type maps onto its SQLite table: which fields have their own column.
struct EntityTable: Sendable {
    let schema: EntitySchema
    /// (field, column) for the endpoint key and other unique fields.
    let uniqueColumns: [(field: String, column: String)]
    /// (foreign key, column).
    let foreignColumns: [(key: GatewayModel.ForeignKey, column: String)]
    let hasCacheKey: Bool

    var name: String { self.schema.name }

    init(_ schema: EntitySchema) {
        self.schema = schema
        self.uniqueColumns = ([schema.endpointKey].compactMap { $0 } + schema.uniqueFields).map { ($0, "uk_\($0)") }
        self.foreignColumns = schema.foreignKeys.map { ($0, "fk_\($0.field)") }
        self.hasCacheKey = !schema.cacheKey.isEmpty
    }

    static let all: [String: EntityTable] = Dictionary(
        uniqueKeysWithValues: EntityRegistry.all.map { ($0.name, EntityTable($0)) })

    static func of(_ schema: EntitySchema) -> EntityTable { self.all[schema.name] ?? EntityTable(schema) }

    func foreignColumn(_ field: String) -> String? { self.foreignColumns.first { $0.key.field == field }?.column }

    /// The cache key as stored: canonical JSON of the key fields' values, in schema order.
    func cacheKey(_ entity: JSONObject) -> String {
        JSONWriter.string(.array(self.schema.cacheKey.map { entity[$0] ?? .null }))
    }

    private func columnValues(_ entity: JSONObject, body: String? = nil) -> [(String, (any DatabaseValueConvertible)?)] {
        var values: [(String, (any DatabaseValueConvertible)?)] = [("id", entity["id"]?.stringValue)]
        for (field, column) in self.uniqueColumns { values.append((column, entity[field]?.stringValue)) }
        for (key, column) in self.foreignColumns { values.append((column, entity[key.field]?["id"]?.stringValue)) }
        if self.hasCacheKey { values.append(("cache_key", self.cacheKey(entity))) }
        values.append(("tags", JSONWriter.string(entity["tags"].flatMap { $0.isNull ? nil : $0 } ?? .array([]))))
        values.append(("body", body ?? JSONWriter.string(.object(entity))))
        return values
    }

    /// Inserts an entity; `body` is its canonical JSON when the caller already has it.
    func insert(_ db: Database, _ entity: JSONObject, body: String? = nil) throws {
        let values = self.columnValues(entity, body: body)
        let columns = values.map(\.0).joined(separator: ", ")
        let marks = Array(repeating: "?", count: values.count).joined(separator: ", ")
        let statement = try db.cachedStatement(sql: "INSERT INTO \(self.name) (\(columns)) VALUES (\(marks))")
        try statement.execute(arguments: StatementArguments(values.map(\.1)))
    }

    func update(_ db: Database, _ entity: JSONObject) throws {
        let values = self.columnValues(entity).filter { $0.0 != "id" }
        let sets = values.map { "\($0.0) = ?" }.joined(separator: ", ")
        try db.execute(sql: "UPDATE \(self.name) SET \(sets) WHERE id = ?",
                       arguments: StatementArguments(values.map(\.1) + [entity["id"]?.stringValue]))
    }

    static func decode(_ body: String) throws -> JSONObject {
        guard case .object(let o) = try JSONParser.parse(body) else {
            throw GatewayError.database("stored entity is not a JSON object")
        }
        return o
    }
}
