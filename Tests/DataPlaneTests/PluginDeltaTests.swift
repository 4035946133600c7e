import DataPlane
import GatewayModel
import Testing

/// Plugin chains across deltas: kept when nothing they depend on changed, recompiled otherwise.
@Suite struct PluginDeltaTests {
    static let pluginID = UUIDString.v5("p:rt")

    /// `SnapshotApplyTests.content` plus a request-termination instance on the route of `pluginPath`.
    static func content(_ names: [String], paths: [String], pluginPath: String, stripPath: Bool = true) -> ConfigContent {
        var c = SnapshotApplyTests.content(names, paths: paths).entities
        c["routes"] = c["routes"]?.map { route in
            var route = route
            route["strip_path"] = .bool(stripPath)
            return route
        }
        c["plugins"] = [[
            "id": .string(Self.pluginID), "name": "request-termination", "instance_name": .null,
            "route": ["id": .string(UUIDString.v5("r:\(pluginPath)"))], "service": .null, "consumer": .null,
            "config": ["status_code": 403, "message": "blocked", "content_type": .null, "body": .null, "echo": false,
                       "trigger": .null],
            "protocols": ["grpc", "grpcs", "http", "https"], "enabled": true, "tags": .null, "ordering": .null,
            "created_at": 1, "updated_at": 1,
        ]]
        return ConfigContent(entities: c)
    }

    static func resolved(_ config: AppliedConfig, _ path: String) -> [String] {
        config.plugins.resolvedIDs(route: UUIDString.v5("r:\(path)"), service: SnapshotApplyTests.serviceID,
                                   consumer: nil)
    }

    static func apply(_ from: ConfigContent, _ to: ConfigContent, on config: AppliedConfig) throws -> AppliedConfig {
        let source = SnapshotApplyTests.rows(from)
        let target = SnapshotApplyTests.rows(to)
        return try SnapshotDecoder.apply(delta: source.delta(to: target).encode(), version: config.version + 1,
                                         hash: target.hash, baseHash: source.hash, maxSize: 1 << 20, to: config)
    }

    @Test func chainsFollowDeltas() throws {
        let v1 = Self.content(["a"], paths: ["/one", "/two"], pluginPath: "/one")
        let f1 = try SnapshotApplyTests.frame(v1)
        let first = try SnapshotDecoder.decode(version: 1, hash: f1.hash, size: f1.size, compressed: f1.compressed,
                                               maxSize: 1 << 20, source: .controlPlane)
        #expect(Self.resolved(first, "/one") == [Self.pluginID])
        #expect(Self.resolved(first, "/two") == [])
        #expect(first.plugins.problems.isEmpty)

        // A consumer added: the chains carry over as they are.
        let v2 = Self.content(["a", "b"], paths: ["/one", "/two"], pluginPath: "/one")
        let second = try Self.apply(v1, v2, on: first)
        #expect(second.plugins === first.plugins)

        // The plugin moves to another route: recompiled.
        let v3 = Self.content(["a", "b"], paths: ["/one", "/two"], pluginPath: "/two")
        let third = try Self.apply(v2, v3, on: second)
        #expect(third.plugins !== second.plugins)
        #expect(Self.resolved(third, "/one") == [])
        #expect(Self.resolved(third, "/two") == [Self.pluginID])

        // A route with its own chain changes (its service could have): recompiled too.
        let v4 = Self.content(["a", "b"], paths: ["/one", "/two"], pluginPath: "/two", stripPath: false)
        let fourth = try Self.apply(v3, v4, on: third)
        #expect(fourth.plugins !== third.plugins)
        #expect(Self.resolved(fourth, "/two") == [Self.pluginID])
    }
}
