import GatewayModel

/// Every route's plugin chain for one snapshot, compiled with it off the event loops (``AppliedConfig/plugins``).
///
/// **Scoping (Kong's precedence).** A plugin runs at most once per request. When several enabled instances of the
/// same plugin apply, the most specific one wins, in this order (most specific first):
///
/// 1. consumer + route + service
/// 2. consumer + route
/// 3. consumer + service
/// 4. route + service
/// 5. consumer
/// 6. route
/// 7. service
/// 8. global
///
/// Source: Kong's "Plugin precedence" documentation (developer.konghq.com/plugins/scopes/, "The complete order of
/// precedence for plugins configured to multiple entities", which also lists consumer-group scopes; this gateway
/// has no consumer groups), and Kong's plugins iterator (`kong/runloop/plugins_iterator.lua`), which tries the same
/// combinations in this order. An instance scoped to a route and a service applies only when the route belongs to
/// that service. Instances whose `protocols` leave out `http` never apply (this proxy listens in plain HTTP).
///
/// **When consumer-scoped instances resolve.** As in Kong's access phase, each plugin's instance is chosen when
/// that plugin's turn comes, with the consumer an earlier (higher-priority) auth plugin has set by then; the
/// choice is kept for `header_filter` and `log`. Plugins after an early exit are still resolved (their `access`
/// does not run) so their `header_filter` and `log` do (Kong's `execute_collecting_plugins_iterator`).
///
/// **Sharing.** Routes without a route-scoped instance use their service's chain, services without a
/// service-scoped instance the base chain (global and consumer-only instances); with no plugin at all every
/// route gets ``PluginChain/empty``. So 100k routes with only global plugins share one chain.
package final class PluginChains: Sendable {
    let registry: PluginRegistry
    let base: PluginChain
    let services: [String: PluginChain]
    let routes: [String: PluginChain]
    /// Instances this build cannot run, for the once-per-snapshot log.
    package let problems: [Problem]
    /// The entity types besides `plugins` some compiled instance depends on (``PluginFactory/reads``): a delta
    /// touching one of them recompiles the chains.
    let reads: Set<String>

    package struct Problem: Sendable {
        package let pluginID: String
        package let name: String
        package let reason: String
    }

    init(content: ConfigContent, registry: PluginRegistry) {
        self.registry = registry
        var base: [PluginInstance] = []
        var byService: [String: [PluginInstance]] = [:]
        var byRoute: [String: [PluginInstance]] = [:]
        var problems: [Problem] = []
        var reads: Set<String> = []
        let snapshot = PluginSnapshot(content: content)
        for entity in content["plugins"] where entity["enabled"]?.boolValue ?? true {
            if let protocols = entity["protocols"]?.arrayValue, !protocols.contains(.string("http")) { continue }
            let instance = PluginInstance(entity: entity, snapshot: snapshot, registry: registry)
            reads.formUnion(instance.reads)
            if let problem = instance.problem {
                problems.append(Problem(pluginID: instance.id, name: instance.name, reason: problem))
            }
            if let route = instance.routeID {
                byRoute[route, default: []].append(instance)
            } else if let service = instance.serviceID {
                byService[service, default: []].append(instance)
            } else {
                base.append(instance)
            }
        }
        self.problems = problems
        self.reads = reads
        self.base = base.isEmpty ? .empty : PluginChain(candidates: base)
        var services: [String: PluginChain] = [:]
        for (service, instances) in byService {
            services[service] = PluginChain(candidates: base + instances)
        }
        self.services = services
        var routes: [String: PluginChain] = [:]
        if !byRoute.isEmpty {
            for route in content["routes"] {
                guard let id = route["id"]?.stringValue, let instances = byRoute[id] else { continue }
                let service = route["service"]?["id"]?.stringValue
                // A route+service instance applies only while the route belongs to that service.
                let own = instances.filter { $0.serviceID == nil || $0.serviceID == service }
                let inherited = service.flatMap { byService[$0] } ?? []
                routes[id] = PluginChain(candidates: base + inherited + own)
            }
        }
        self.routes = routes
    }

    /// The chain for a request on `route` of `service`.
    func chain(route: String, service: String) -> PluginChain {
        if !self.routes.isEmpty, let chain = self.routes[route] { return chain }
        if !self.services.isEmpty, let chain = self.services[service] { return chain }
        return self.base
    }

    /// The plugin entity ids that run, in order, for a request on `route` of `service` once `consumer` is known
    /// (what `access` resolves, for tests and diagnostics).
    package func resolvedIDs(route: String, service: String, consumer: String?) -> [String] {
        self.chain(route: route, service: service).slots.compactMap { $0.resolve(consumer: consumer)?.id }
    }

    /// How many distinct chains this snapshot compiled (shared chains count once).
    package var chainCount: Int {
        var seen = Set<ObjectIdentifier>([ObjectIdentifier(self.base)])
        for chain in self.services.values { seen.insert(ObjectIdentifier(chain)) }
        for chain in self.routes.values { seen.insert(ObjectIdentifier(chain)) }
        return seen.count
    }

    /// Whether these chains still hold after a delta that changed no plugin, upserted `routes` and touched the
    /// entity types `touched`: a route-scoped chain depends on its route's service, and some plugins on other
    /// entities (``reads``).
    func survives(upsertedRoutes routes: [String], touched: some Sequence<String>) -> Bool {
        guard self.reads.isEmpty || !touched.contains(where: self.reads.contains) else { return false }
        return self.routes.isEmpty || !routes.contains { self.routes[$0] != nil }
    }
}
