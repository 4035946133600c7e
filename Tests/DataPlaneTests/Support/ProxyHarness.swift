import DataPlane
import GatewayModel
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// An in-process ``ProxyServer`` (one worker, 127.0.0.1, OS-assigned port) serving a configuration compiled from
/// test content with a test plugin registry.
final class ProxyHarness: Sendable {
    let port: Int
    let state: ConfigState
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(port: Int, state: ConfigState, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.state = state
        self.group = group
        self.task = task
    }

    /// Compiles `content` with `registry` the way a snapshot is (chains included).
    static func config(_ content: ConfigContent, registry: PluginRegistry, version: Int64 = 1) throws -> AppliedConfig {
        try AppliedConfig(version: version, decoded: IncrementalDecoder.decode(content.canonicalBytes(), previous: nil),
                          plugins: registry)
    }

    static func start(_ content: ConfigContent, registry: PluginRegistry) async throws -> ProxyHarness {
        let state = ConfigState()
        state.apply(try self.config(content, registry: registry))
        let (bound, continuation) = AsyncStream.makeStream(of: Int.self)
        let logger = Logger(label: "test.proxy")
        let server = ProxyServer(host: "127.0.0.1", port: 0, workers: 1, state: state, logger: logger) { address in
            continuation.yield(address.port ?? 0)
            continuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let task = Task { try await group.run() }
        var port = 0
        for await p in bound { port = p }
        return ProxyHarness(port: port, state: state, group: group, task: task)
    }

    func stop() async {
        await self.group.triggerGracefulShutdown()
        _ = try? await self.task.value
    }
}

/// Builds snapshot content for the pipeline tests: services to the echo upstream, routes by path, plugins.
struct TestContent {
    var services: [JSONObject] = []
    var routes: [JSONObject] = []
    var plugins: [JSONObject] = []

    static func id(_ kind: String, _ name: String) -> String { UUIDString.v5("\(kind):\(name)") }

    mutating func service(_ name: String, port: Int, retries: Int64 = 0) {
        self.services.append([
            "id": .string(Self.id("service", name)), "name": .string(name), "protocol": "http",
            "host": "127.0.0.1", "port": .int(Int64(port)), "path": .null, "retries": .int(retries),
            "connect_timeout": 2000, "read_timeout": 5000, "write_timeout": 5000, "enabled": true,
        ])
    }

    mutating func route(_ name: String, path: String, service: String) {
        self.routes.append([
            "id": .string(Self.id("route", name)), "name": .string(name), "paths": [.string(path)],
            "hosts": .null, "methods": .null, "headers": .null, "regex_priority": 0, "strip_path": false,
            "preserve_host": false, "protocols": ["http", "https"], "https_redirect_status_code": 426,
            "service": ["id": .string(Self.id("service", service))],
        ])
    }

    /// A plugin instance `id` named `name`, scoped by the given route/service/consumer names.
    mutating func plugin(_ id: String, _ name: String, route: String? = nil, service: String? = nil,
                         consumer: String? = nil, config: JSONObject = [:], protocols: [String] = ["http", "https"],
                         enabled: Bool = true)
    {
        func ref(_ kind: String, _ n: String?) -> JSON { n.map { ["id": .string(Self.id(kind, $0))] } ?? .null }
        self.plugins.append([
            "id": .string(Self.id("plugin", id)), "name": .string(name), "enabled": .bool(enabled),
            "config": .object(config), "route": ref("route", route), "service": ref("service", service),
            "consumer": ref("consumer", consumer), "protocols": .array(protocols.map(JSON.string)),
        ])
    }

    var content: ConfigContent {
        ConfigContent(entities: ["services": self.services, "routes": self.routes, "plugins": self.plugins])
    }
}
