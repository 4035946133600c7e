import DataPlane
import GatewayModel
import Testing

/// Chain compilation: Kong's precedence between instances of one plugin, priority order, sharing.
@Suite struct PluginScopingTests {
    static let registry = TestPlugins.registry(Journal())

    static func chains(_ build: (inout TestContent) -> Void) throws -> PluginChains {
        var content = TestContent()
        content.service("s1", port: 1)
        content.service("s2", port: 1)
        content.route("r1", path: "/r1", service: "s1")
        content.route("r2", path: "/r2", service: "s1")
        content.route("r3", path: "/r3", service: "s2")
        build(&content)
        return try ProxyHarness.config(content.content, registry: Self.registry).plugins
    }

    static func resolved(_ chains: PluginChains, route: String = "r1", service: String = "s1",
                         consumer: String? = nil) -> [String]
    {
        let ids = chains.resolvedIDs(route: TestContent.id("route", route), service: TestContent.id("service", service),
                                     consumer: consumer.map { TestContent.id("consumer", $0) })
        // Back from ids to the names the test gave.
        return ids.map { id in Self.names.first { TestContent.id("plugin", $0) == id } ?? id }
    }

    static let names = ["crs", "cr", "cs", "rs", "c", "r", "s", "g", "other-consumer", "rs-other", "alpha", "beta",
                        "gamma", "early", "off", "grpc-only"]

    /// Every scope of one plugin, most specific first (Kong's order).
    static let scopes: [(id: String, route: String?, service: String?, consumer: String?)] = [
        ("crs", "r1", "s1", "alice"), ("cr", "r1", nil, "alice"), ("cs", nil, "s1", "alice"), ("rs", "r1", "s1", nil),
        ("c", nil, nil, "alice"), ("r", "r1", nil, nil), ("s", nil, "s1", nil), ("g", nil, nil, nil),
    ]

    @Test("the most specific instance wins: c+r+s > c+r > c+s > r+s > c > r > s > global")
    func precedence() throws {
        for first in Self.scopes.indices {
            let chains = try Self.chains { content in
                for scope in Self.scopes[first...] {
                    content.plugin(scope.id, "scoped", route: scope.route, service: scope.service,
                                   consumer: scope.consumer, config: ["label": .string(scope.id)])
                }
            }
            let expected = Self.scopes[first].id
            #expect(Self.resolved(chains, consumer: "alice") == [expected], "from \(expected) down")
            // Without that consumer, the best consumer-independent one.
            let anonymous = Self.scopes[first...].first { $0.consumer == nil }?.id
            #expect(Self.resolved(chains) == (anonymous.map { [$0] } ?? []), "from \(expected) down, no consumer")
            #expect(Self.resolved(chains, consumer: "bob") == (anonymous.map { [$0] } ?? []))
        }
    }

    @Test("scopes apply only where they point: other routes, services and consumers do not see them")
    func scopesStayInPlace() throws {
        let chains = try Self.chains { content in
            for scope in Self.scopes {
                content.plugin(scope.id, "scoped", route: scope.route, service: scope.service, consumer: scope.consumer,
                               config: ["label": .string(scope.id)])
            }
            content.plugin("other-consumer", "scoped", route: "r2", consumer: "bob", config: ["label": "x"])
            // r1 belongs to s1: an instance for r1 on s2 never applies.
            content.plugin("rs-other", "alpha", route: "r1", service: "s2", config: ["label": "x"])
        }
        #expect(Self.resolved(chains, route: "r2", consumer: "alice") == ["cs"])
        #expect(Self.resolved(chains, route: "r2") == ["s"])
        #expect(Self.resolved(chains, route: "r2", consumer: "bob") == ["other-consumer"])
        #expect(Self.resolved(chains, route: "r3", service: "s2", consumer: "alice") == ["c"])
        #expect(Self.resolved(chains, route: "r3", service: "s2") == ["g"])
        #expect(Self.resolved(chains, route: "r1") == ["rs"])
    }

    @Test("chains run in descending priority, ties by name; disabled and non-http instances never apply")
    func priorityOrder() throws {
        let chains = try Self.chains { content in
            content.plugin("gamma", "gamma", config: ["label": "gamma"])
            content.plugin("beta", "beta", config: ["label": "beta"])
            content.plugin("alpha", "alpha", route: "r1", config: ["label": "alpha"])
            content.plugin("early", "early", service: "s1", config: ["label": "early"])
            content.plugin("off", "scoped", enabled: false)
            content.plugin("grpc-only", "auth", protocols: ["grpc", "grpcs"])
        }
        #expect(Self.resolved(chains) == ["early", "alpha", "beta", "gamma"])
        #expect(Self.resolved(chains, route: "r2") == ["early", "beta", "gamma"])
        #expect(Self.resolved(chains, route: "r3", service: "s2") == ["beta", "gamma"])
    }

    @Test("routes without their own instances share chains: 100k routes with only global plugins make one chain")
    func sharing() throws {
        var content = TestContent()
        content.service("s1", port: 1)
        for i in 0..<2000 { content.route("r\(i)", path: "/r\(i)", service: "s1") }
        content.plugin("g", "alpha", config: ["label": "g"])
        content.plugin("c", "beta", consumer: "alice", config: ["label": "c"])
        let chains = try ProxyHarness.config(content.content, registry: Self.registry).plugins
        #expect(chains.chainCount == 1)
        content.plugin("r", "gamma", route: "r7", config: ["label": "r"])
        content.plugin("s", "gamma", service: "s1", config: ["label": "s"])
        #expect(try ProxyHarness.config(content.content, registry: Self.registry).plugins.chainCount == 3)
        let none = try ProxyHarness.config(TestContent().content, registry: Self.registry).plugins
        #expect(none.chainCount == 1)
        #expect(none.problems.isEmpty)
    }

    @Test("an instance this build cannot run is reported once per snapshot, with why")
    func problems() throws {
        let chains = try Self.chains { content in
            content.plugin("mtls", "header-cert-auth", route: "r1")
            content.plugin("bad", "exit", route: "r2", config: [:])
        }
        let reasons = chains.problems.map(\.reason).sorted()
        #expect(reasons.count == 2)
        #expect(reasons.contains { $0.contains("no runtime for plugin 'header-cert-auth'") })
        #expect(reasons.contains { $0.contains("status is required") })
    }
}
