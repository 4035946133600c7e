import GatewayModel

/// Where a plugin entity applies, by the entities it references. The raw value is Kong's precedence: when several
/// instances of one plugin apply to a request, the lowest wins (see ``PluginChains``).
enum PluginScope: Int, Sendable, Comparable {
    case consumerRouteService = 1
    case consumerRoute
    case consumerService
    case routeService
    case consumer
    case route
    case service
    case global

    init(route: Bool, service: Bool, consumer: Bool) {
        switch (consumer, route, service) {
        case (true, true, true): self = .consumerRouteService
        case (true, true, false): self = .consumerRoute
        case (true, false, true): self = .consumerService
        case (false, true, true): self = .routeService
        case (true, false, false): self = .consumer
        case (false, true, false): self = .route
        case (false, false, true): self = .service
        case (false, false, false): self = .global
        }
    }

    static func < (a: PluginScope, b: PluginScope) -> Bool { a.rawValue < b.rawValue }
}

/// One enabled plugin entity, compiled once per snapshot. `plugin` is nil when this build cannot run it (no
/// runtime by that name, or a config the runtime refuses): requests it applies to are answered 500.
final class PluginInstance: Sendable {
    let id: String
    let name: String
    let priority: Int
    let routeID: String?
    let serviceID: String?
    let consumerID: String?
    let scope: PluginScope
    let plugin: (any GatewayPlugin)?
    let phases: PluginPhases
    /// Why `plugin` is nil.
    let problem: String?

    /// The entity types besides `plugins` the compiled plugin depends on (``PluginFactory/reads``).
    let reads: Set<String>

    /// Compiles `entity` with `registry`'s factory for its name, against `snapshot`.
    init(entity: JSONObject, snapshot: PluginSnapshot, registry: PluginRegistry) {
        let name = entity["name"]?.stringValue ?? ""
        self.id = entity["id"]?.stringValue ?? ""
        self.name = name
        self.routeID = entity["route"]?["id"]?.stringValue
        self.serviceID = entity["service"]?["id"]?.stringValue
        self.consumerID = entity["consumer"]?["id"]?.stringValue
        self.scope = PluginScope(route: self.routeID != nil, service: self.serviceID != nil,
                                 consumer: self.consumerID != nil)
        guard let factory = registry[name] else {
            self.priority = PluginSchema.available[name]?.priority ?? 0
            self.plugin = nil
            self.phases = []
            self.reads = []
            self.problem = "this build has no runtime for plugin '\(name)'"
            return
        }
        self.priority = factory.priority
        self.reads = factory.reads
        do {
            let plugin = try factory.make(entity["config"]?.objectValue ?? [:], snapshot)
            self.plugin = plugin
            self.phases = plugin.phases
            self.problem = nil
        } catch {
            self.plugin = nil
            self.phases = []
            self.problem = "plugin '\(name)' config cannot be compiled: \(error)"
        }
    }
}
