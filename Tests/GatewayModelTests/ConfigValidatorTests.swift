import GatewayModel
import Testing
import TestSupport

@Suite("Whole-configuration validation (what a data plane applies)")
struct ConfigValidatorTests {
    static let now: Int64 = 1_800_000_000

    static func example() throws -> ConfigContent {
        let doc = try DeclarativeLoader.parseText(try Repo.text("examples/alb-mtls.yaml"))
        return try DeclarativeLoader.load(doc, trustedIPs: [], now: Self.now).get()
    }

    static func replacing(_ content: ConfigContent, _ type: String, _ change: (inout JSONObject) -> Void) -> ConfigContent {
        var entities: [String: [JSONObject]] = [:]
        for schema in EntityRegistry.all { entities[schema.name] = content[schema.name] }
        if var rows = entities[type], !rows.isEmpty {
            change(&rows[0])
            entities[type] = rows
        }
        return ConfigContent(entities: entities, trustedIPs: content.trustedIPs)
    }

    @Test func exampleIsValidAndSurvivesTheWire() throws {
        let content = try Self.example()
        #expect(ConfigValidator.problems(content, now: Self.now).isEmpty)
        let decoded = try ConfigContent.decode(content.canonicalBytes())
        #expect(ConfigValidator.problems(decoded, now: Self.now).isEmpty)
    }

    @Test func findsBrokenEntitiesAndReferences() throws {
        let content = try Self.example()
        let badPath = Self.replacing(content, "routes") { $0["paths"] = ["no-slash"] }
        let p1 = ConfigValidator.problems(badPath, now: Self.now)
        #expect(p1.count == 1)
        #expect(p1.first?.contains("paths[1]: should start with: /") == true)

        let dangling = Self.replacing(content, "routes") { $0["service"] = ["id": "00000000-0000-4000-8000-000000000000"] }
        #expect(ConfigValidator.problems(dangling, now: Self.now).first?.contains("service references a missing services entity") == true)

        let unknownPlugin = Self.replacing(content, "plugins") { $0["name"] = "rate-limiting" }
        #expect(ConfigValidator.problems(unknownPlugin, now: Self.now).first?.contains("not available on this data plane") == true)

        let noCA = Self.replacing(content, "plugins") { p in
            var config = p["config"]?.objectValue ?? [:]
            config["ca_certificates"] = ["00000000-0000-4000-8000-00000000000f"]
            p["config"] = .object(config)
        }
        #expect(ConfigValidator.problems(noCA, now: Self.now).first?.contains("does not exist") == true)

        // The CA expires (the data plane's clock is what counts when it applies).
        #expect(!ConfigValidator.problems(content, now: 5_000_000_000).isEmpty)
    }
}
