/// Validates a whole configuration as a data plane receives it: every entity against its schema (the same
/// checks the control plane ran when it was written), every reference resolvable inside the configuration,
/// every unique key unique. A data plane applies nothing that fails here.
package enum ConfigValidator {
    /// Entity types whose checks look beyond the entity itself (referenced CA certificates, trusted sources, the
    /// clock): checked on every apply even when the entity did not change.
    static let contextDependent: Set<String> = [
        EntitySchema.services.name, EntitySchema.plugins.name, EntitySchema.caCertificates.name,
    ]

    /// Problems found, each naming the entity (`routes 5b0…: paths[1]: …`); empty when the content is valid.
    ///
    /// - Parameter fresh: when given, the ids per type that are new or changed since a configuration that passed
    ///   this validation; other entities skip the checks that depend on nothing but themselves.
    package static func problems(_ content: ConfigContent, now: Int64, fresh: [String: Set<String>]? = nil,
                                 limit: Int = 20) -> [String]
    {
        self.problems(content, rows: nil, now: now, fresh: fresh, limit: limit)
    }

    /// ``problems(_:now:fresh:limit:)`` of a decoded snapshot's content: the same checks, except that rows whose
    /// fields were found to conform as they were parsed (``StoredRow/fieldsConform``) are not checked field by
    /// field again.
    package static func problems(_ snapshot: DecodedSnapshot, now: Int64, fresh: [String: Set<String>]? = nil,
                                 limit: Int = 20) -> [String]
    {
        self.problems(snapshot.content, rows: snapshot.rows, now: now, fresh: fresh, limit: limit)
    }

    /// - Parameter rows: per type, rows parallel to `content`'s entities (a ``DecodedSnapshot``'s), or nil.
    private static func problems(_ content: ConfigContent, rows: [String: [StoredRow]]?, now: Int64,
                                 fresh: [String: Set<String>]?, limit: Int) -> [String]
    {
        var out: [String] = []
        var ids: [String: Set<String>] = [:]
        for schema in EntityRegistry.all {
            let entities = content[schema.name]
            var set = Set<String>(minimumCapacity: entities.count)
            for entity in entities {
                if let id = entity["id"]?.stringValue { set.insert(id) }
            }
            ids[schema.name] = set
        }
        let known = ids
        let context = ValidationContext(trustedIPs: content.trustedIPs, now: now) { type, id in
            known[type]?.contains(id) ?? false
        }
        for schema in EntityRegistry.all {
            let freshIDs = fresh?[schema.name]
            let entities = content[schema.name]
            let foreignKeys = schema.foreignKeys
            let typeRows = rows?[schema.name].flatMap { $0.count == entities.count ? $0 : nil }
            // Entities are checked independently: on every core for large configurations.
            let found = Parallel.map(entities.count, makeState: { () }) { _, i -> String? in
                let entity = entities[i]
                let id = entity["id"]?.stringValue ?? "?"
                let unchanged = freshIDs.map { !$0.contains(id) } ?? false
                return Self.check(entity, schema, unchanged: unchanged, fieldsConform: typeRows?[i].fieldsConform ?? false,
                                  context: context, foreignKeys: foreignKeys,
                                  known: { known[$0]?.contains($1) ?? false }).map { "\(schema.name) \(id): \($0)" }
            }
            for problem in found {
                guard let problem else { continue }
                out.append(problem)
                if out.count >= limit { return out }
            }
        }
        if let conflict = UniquenessCheck.firstConflict(in: content) { out.append("\(conflict.path): \(conflict.message)") }
        return out
    }

    /// The same verdict as ``problems(_:now:fresh:limit:)`` for a configuration reached by a delta from one that
    /// passed it, at a cost that follows the delta: new and changed entities get every check (schema, references,
    /// uniqueness against all others), context-dependent types are re-checked, and removals may not leave a
    /// reference dangling.
    package static func deltaProblems(_ snapshot: DecodedSnapshot, now: Int64, limit: Int = 20) -> [String] {
        let rows = snapshot.rows
        let content = snapshot.content
        let known: @Sendable (String, String) -> Bool = { type, id in RowMerge.contains(rows[type] ?? [], id: id) }
        let context = ValidationContext(trustedIPs: content.trustedIPs, now: now, exists: known)
        var out: [String] = []
        // Each new or changed entity is compared with all others of its type; past a few dozen, one pass over
        // every key of every type (``UniquenessCheck/firstConflict(in:)``) is cheaper.
        let freshCount = snapshot.fresh.values.reduce(0) { $0 + $1.count }
        let scanEach = freshCount <= Self.perEntityUniquenessLimit
        if !scanEach, let conflict = UniquenessCheck.firstConflict(in: content) {
            out.append("\(conflict.path): \(conflict.message)")
        }
        for schema in EntityRegistry.all {
            let fresh = snapshot.fresh[schema.name] ?? []
            let alwaysCheck = Self.contextDependent.contains(schema.name)
            if fresh.isEmpty && !alwaysCheck { continue }
            // New and changed entities found by id (rows are in id order), not by a pass over the type.
            let typeRows = rows[schema.name] ?? []
            let candidates: [(entity: JSONObject, isFresh: Bool, fieldsConform: Bool)] = alwaysCheck
                ? content[schema.name].map { ($0, fresh.contains($0["id"]?.stringValue ?? ""), false) }
                : fresh.sorted().compactMap { id in
                    RowMerge.index(typeRows, id: id).map { (typeRows[$0].entity, true, typeRows[$0].fieldsConform) }
                }
            for (entity, isFresh, fieldsConform) in candidates {
                let id = entity["id"]?.stringValue ?? "?"
                if let problem = Self.check(entity, schema, unchanged: !isFresh, fieldsConform: fieldsConform,
                                            context: context, known: known)
                {
                    out.append("\(schema.name) \(id): \(problem)")
                }
                if isFresh, scanEach,
                    let conflict = UniquenessCheck.conflict(of: entity, schema, among: content[schema.name])
                {
                    out.append("\(conflict.path): \(conflict.message)")
                }
                if out.count >= limit { return out }
            }
        }
        for (type, ids) in snapshot.removed where !ids.isEmpty {
            for schema in EntityRegistry.all {
                for fk in schema.foreignKeys where fk.reference == type {
                    for entity in content[schema.name] {
                        guard let target = entity[fk.field]?["id"]?.stringValue, ids.contains(target) else { continue }
                        out.append("\(schema.name) \(entity["id"]?.stringValue ?? "?"): \(fk.field) references a "
                            + "missing \(fk.reference) entity")
                        if out.count >= limit { return out }
                    }
                }
            }
        }
        return out
    }

    static let perEntityUniquenessLimit = 32

    /// One entity's problems, or nil.
    ///
    /// - Parameters:
    ///   - fieldsConform: the entity's fields are known to conform to its schema's (checked as it was parsed):
    ///     only the entity-level checks and references are left.
    ///   - foreignKeys: the schema's ``EntitySchema/foreignKeys``, when the caller has them already.
    static func check(_ entity: JSONObject, _ schema: EntitySchema, unchanged: Bool, fieldsConform: Bool = false,
                      context: ValidationContext, foreignKeys: [ForeignKey]? = nil,
                      known: @Sendable (String, String) -> Bool) -> String?
    {
        var fields = schema.fields
        if schema.name == EntitySchema.plugins.name {
            let (pluginFields, unknown) = EntitySchema.pluginFields(for: entity)
            if let unknown { return "plugin '\(unknown)' is not available on this data plane" }
            fields = pluginFields
        }
        var problems: [String] = []
        var all = ValidationErrors()
        if unchanged {
            if Self.contextDependent.contains(schema.name) { schema.check(entity, context, &all) }
        } else if fieldsConform || SchemaValidator.recordConforms(entity, fields: fields) {
            // Canonical rows (what snapshots carry) pass every field check as they are: nothing is rebuilt.
            schema.check(entity, context, &all)
        } else {
            let (result, errors) = SchemaValidator.processRecord(entity, fields: fields, coerceStrings: false)
            for (k, v) in errors { all.add(k, v) }
            if all.isEmpty { schema.check(result, context, &all) }
        }
        if !all.isEmpty { problems.append(all.lines.joined(separator: "; ")) }
        for fk in foreignKeys ?? schema.foreignKeys {
            guard let ref = entity[fk.field], !ref.isNull else { continue }
            guard let target = ref["id"]?.stringValue, known(fk.reference, target) else {
                problems.append("\(fk.field) references a missing \(fk.reference) entity")
                continue
            }
        }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }
}
