import GatewayModel
import Testing

/// `request-termination`'s admin-time schema: Kong's fields, defaults and cross-field rules.
@Suite struct RequestTerminationSchemaTests {
    static func body(_ config: JSONObject) -> JSONObject {
        ["name": "request-termination", "config": .object(config)]
    }

    @Test func defaults() throws {
        let p = try Fixture.valid(.plugins, Self.body([:]))
        #expect(p["config"]?["status_code"] == 503)
        #expect(p["config"]?["echo"] == false)
        for f in ["message", "body", "content_type", "trigger"] { #expect(p["config"]?[f] == .null, "\(f)") }
        #expect(p["protocols"] == ["grpc", "grpcs", "http", "https"])
        #expect(PluginSchema.requestTermination.priority == 2)
        // Unlike header-cert-auth, it can be scoped to a consumer.
        var scoped = Self.body([:])
        scoped["consumer"] = ["id": .string(Fixture.consumerID)]
        _ = try Fixture.valid(.plugins, scoped, context: Fixture.context(existing: [("consumers", Fixture.consumerID)]))
    }

    @Test func rules() throws {
        let status = try Fixture.invalid(.plugins, Self.body(["status_code": 600]))
        #expect(status.fieldsJSON["config"]?["status_code"] != nil)
        let mixed = try Fixture.invalid(.plugins, Self.body(["message": "m", "body": "b"]))
        #expect(mixed.fieldsJSON["config"]?["message"] == "message cannot be used with content_type or body")
        let typeOnly = try Fixture.invalid(.plugins, Self.body(["content_type": "text/plain"]))
        #expect(typeOnly.fieldsJSON["config"]?["content_type"] == "content_type requires a body")
        let echo = try Fixture.invalid(.plugins, Self.body(["echo": true, "body": "b"]))
        #expect(echo.fieldsJSON["config"]?["echo"] == "echo cannot be used with content_type and body")
        let trigger = try Fixture.invalid(.plugins, Self.body(["trigger": "bad header"]))
        #expect(trigger.fieldsJSON["config"]?["trigger"] != nil)
        _ = try Fixture.valid(.plugins, Self.body(["status_code": 418, "body": "<p/>", "content_type": "text/html",
                                                  "trigger": "X-Block"]))
    }
}
