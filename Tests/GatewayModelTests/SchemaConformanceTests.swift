import GatewayModel
import Testing
import TestSupport

/// The check-only path (``SchemaValidator/conforms(_:_:)``, ``SchemaValidator/recordConforms(_:fields:)``) against
/// the rebuilding one (``SchemaValidator/process(_:_:coerceStrings:)``): it must accept exactly the values `process`
/// accepts and returns unchanged, so the data plane's verdicts and messages stay those of `process`.
@Suite("Schema conformance (check-only validation)")
struct SchemaConformanceTests {
    /// `process` accepts `value` and returns it as it is.
    static func processKeeps(_ value: JSON, _ spec: FieldSpec) -> Bool {
        let (out, error) = SchemaValidator.process(value, spec, coerceStrings: false)
        return error == nil && out == value
    }

    static func recordKept(_ entity: JSONObject, _ fields: [FieldSpec]) -> Bool {
        let (out, errors) = SchemaValidator.processRecord(entity, fields: fields, coerceStrings: false)
        return errors.isEmpty && out == entity
    }

    static func fields(_ schema: EntitySchema, _ entity: JSONObject) -> [FieldSpec] {
        schema.name == EntitySchema.plugins.name ? EntitySchema.pluginFields(for: entity).0 : schema.fields
    }

    /// Values of every JSON kind, valid for some specs and not for others.
    static let samples: [JSON] = [
        .null, true, false, 0, 5, -1, 65536, 5.0, 1.5, -0.5, "", "a", "5", "true", "http", "https", "/a", "a/b",
        "~/a[", "~/v[0-9]+", "GET", "get", "example.com", "*.example.com", "ex*ample.com", "10.0.0.0/8", "::1/300",
        "7c3f0a4e-0000-4000-8000-000000000001", "not-a-uuid", "X-Header", "bad header", "héllo", "ééé",
        .string(String(repeating: "x", count: 129)), [], [nil], ["a"], ["a", "a"], ["a", "b"], [1, 1.0], ["http", "https"],
        ["http", "http"], ["/a", "/a"], ["/a", 1], [["ip": "10.0.0.1", "port": 80]], [["ip": "10.0.0.1"]],
        [:], ["id": "7c3f0a4e-0000-4000-8000-000000000001"], ["id": "x"], ["name": "svc"], ["id": ""],
        ["id": "7c3f0a4e-0000-4000-8000-000000000001", "name": "x"], ["a": ["b"]], ["a": []], ["a": nil],
        ["x-a": ["1"]], ["ip": "10.0.0.1", "port": 80], ["ip": "10.0.0.1", "port": 80, "x": 1],
    ]

    @Test func agreesWithProcessOnEverySchemaField() {
        var specs: [FieldSpec] = []
        func collect(_ fields: [FieldSpec]) {
            for f in fields {
                specs.append(f)
                switch f.type {
                case .record(let sub): collect(sub)
                case .array(let e), .set(let e), .map(let e): collect([e])
                default: break
                }
            }
        }
        for schema in EntityRegistry.all { collect(schema.fields) }
        for plugin in PluginSchema.available.values { collect(plugin.config) }
        // A few specs no schema has, for the remaining rules.
        specs.append(FieldSpec("x", .string, required: true, lenMin: 3, lenMax: 4))
        specs.append(FieldSpec("x", .set(.element(.integer)), lenMin: 1, lenMax: 1))
        specs.append(FieldSpec("x", .number, oneOf: [1, 2.5]))
        for spec in specs {
            for value in Self.samples {
                #expect(SchemaValidator.conforms(value, spec) == Self.processKeeps(value, spec),
                        "\(spec.name) \(spec.type) with \(value)")
            }
        }
    }

    @Test func fieldNamesAreDistinct() {
        for schema in EntityRegistry.all {
            #expect(Set(schema.fields.map(\.name)).count == schema.fields.count, "\(schema.name)")
        }
        for plugin in PluginSchema.available.values {
            #expect(Set(plugin.config.map(\.name)).count == plugin.config.count, "\(plugin.name)")
        }
    }

    /// Stored entities conform; so does each broken or non-canonical variant exactly when `processRecord` keeps it.
    @Test func agreesWithProcessRecordOnEntities() throws {
        let doc = try DeclarativeLoader.parseText(try Repo.text("examples/alb-mtls.yaml"))
        let content = try DeclarativeLoader.load(doc, trustedIPs: [], now: Fixture.now).get()
        var checked = 0
        for schema in EntityRegistry.all {
            for entity in content[schema.name] {
                let fields = Self.fields(schema, entity)
                #expect(SchemaValidator.recordConforms(entity, fields: fields), "\(schema.name) as stored")
                var variants: [JSONObject] = []
                for key in entity.keys.sorted() {
                    var removed = entity
                    removed[key] = nil
                    variants.append(removed)
                    for value in Self.samples {
                        var changed = entity
                        changed[key] = value
                        variants.append(changed)
                    }
                }
                var extra = entity
                extra["unknown"] = "x"
                variants.append(extra)
                if case .object(var config)? = entity["config"] {
                    for key in config.keys.sorted() {
                        for value in Self.samples {
                            config[key] = value
                            var changed = entity
                            changed["config"] = .object(config)
                            variants.append(changed)
                        }
                    }
                }
                for variant in variants {
                    let fields = Self.fields(schema, variant)
                    #expect(SchemaValidator.recordConforms(variant, fields: fields) == Self.recordKept(variant, fields),
                            "\(schema.name) \(variant)")
                    checked += 1
                }
            }
        }
        #expect(checked > 1000)
    }

    /// Whole-configuration validation reports the same problems with the check-only path as field processing does.
    @Test func configValidatorMessagesUnchanged() throws {
        let doc = try DeclarativeLoader.parseText(try Repo.text("examples/alb-mtls.yaml"))
        let content = try DeclarativeLoader.load(doc, trustedIPs: [], now: Fixture.now).get()
        #expect(ConfigValidator.problems(content, now: Fixture.now).isEmpty)
        var routes = content["routes"]
        routes[0]["paths"] = ["/a", "no-slash"]
        routes[0]["protocols"] = ["http", "tcp"]
        routes[1]["regex_priority"] = 1.0
        var entities = content.entities
        entities["routes"] = routes
        let broken = ConfigContent(entities: entities, trustedIPs: [])
        let problems = ConfigValidator.problems(broken, now: Fixture.now)
        #expect(problems.count == 1)
        #expect(problems.first?.hasSuffix("paths[2]: should start with: / (fixed path) or ~/ (regex path)") == true)
        // An integral double is accepted (and would be stored as an integer): processed, not rejected.
        #expect(!problems.contains { $0.contains(routes[1]["id"]?.stringValue ?? "?") })
    }
}
