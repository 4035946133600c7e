package import GatewayModel

extension Router {
    /// Compiles the routes of a configuration.
    ///
    /// Routes with the same id (an invalid configuration) are not both kept: the last one listed wins.
    ///
    /// - Parameters:
    ///   - content: the configuration; its `routes` are compiled.
    ///   - previous: the router of the configuration served now;
    ///   - changed: ids of routes that are new or changed since then. Other routes are taken from `previous`
    ///     as they were compiled; without `changed`, every route is compiled.
    /// - Throws: ``RouterError`` when a route cannot be compiled (an invalid regex path).
    package convenience init(content: ConfigContent, previous: Router? = nil, changed: Set<String>? = nil)
        throws(RouterError)
    {
        let entities = content["routes"]
        // Each route compiles on its own (regexes included): on every core for large configurations; the index is
        // then filled in snapshot order.
        let compiled = Parallel.map(entities.count, minimumPerChunk: 4096, makeState: { () }) { _, i in
            let e = entities[i]
            let id = e["id"]?.stringValue ?? ""
            if let changed, !changed.contains(id), let reused = previous?.byID.value(for: id) {
                return (id, Result<CompiledRoute, RouterError>.success(reused))
            }
            return (id, Result { () throws(RouterError) in try CompiledRoute(e) })
        }
        var routes = ShardedTable<CompiledRoute>(minimumCapacity: entities.count)
        for (id, result) in compiled { routes.setValue(try result.get(), for: id) }
        self.init(Index(routes: routes))
    }

    /// A router equal in behaviour to `Router(content:)` of the new content, built from this one by removing the
    /// routes with ids in `removing` and adding or replacing the given route entities.
    ///
    /// Removals come first: an id both removed and upserted ends up with the upserted entity. An entity whose id is
    /// already present replaces that route; among entities with the same id, the last one wins. Ids that are not
    /// present are ignored. Only the given entities are compiled, and the cost follows the change: the indexes'
    /// storage is shared with this router except for the shards the changed routes touch. This router is left as
    /// it was and keeps serving.
    ///
    /// - Parameters:
    ///   - removing: ids of routes to remove.
    ///   - upserting: route entities (as in a snapshot) to add, or to replace the route with the same id.
    /// - Returns: the updated router.
    /// - Throws: ``RouterError`` when an entity cannot be compiled; nothing is changed then.
    package func updated(removing: Set<String>, upserting: [JSONObject]) throws(RouterError) -> Router {
        var compiled: [CompiledRoute] = []
        compiled.reserveCapacity(upserting.count)
        for e in upserting { compiled.append(try CompiledRoute(e)) }
        var index = Index(self)
        for id in removing { index.remove(id: id) }
        for route in compiled { index.add(route) }
        index.finish()
        return Router(index)
    }

    /// A router's indexes while they are being built or changed.
    struct Index {
        var byID = ShardedTable<CompiledRoute>()
        var exactHosts = ShardedTable<Bucket>()
        var portHosts = 0
        var wildcardHosts: [(pattern: String, bucket: Bucket)] = []
        var anyHost = PathIndex()
        /// Host buckets being changed, by host or pattern: taken out on first use, put back by ``finish()``.
        private var exact: [String: PathIndex] = [:]
        private var wildcard: [String: PathIndex] = [:]

        /// The indexes of `routes` (by id), built in one pass.
        init(routes: ShardedTable<CompiledRoute>) {
            var anyKeys = 0
            routes.forEach { _, r in
                if r.plainHosts.isEmpty && r.wildcardHosts.isEmpty { anyKeys += r.plainPaths.count }
            }
            var any = PathIndex.Builder(expectedKeys: anyKeys)
            var exact: [String: PathIndex.Builder] = [:]
            var wildcard: [String: PathIndex.Builder] = [:]
            routes.forEach { _, route in
                if route.plainHosts.isEmpty && route.wildcardHosts.isEmpty { any.add(route) }
                for h in route.plainHosts { exact[h, default: PathIndex.Builder()].add(route) }
                for p in route.wildcardHosts { wildcard[p, default: PathIndex.Builder()].add(route) }
            }
            self.byID = routes
            // Builders are finished where they lie (sorting in place, not in a copy).
            let hosts = Array(exact.keys)
            self.exactHosts = ShardedTable(minimumCapacity: hosts.count)
            for host in hosts {
                if let paths = exact[host]?.finish() { self.exactHosts.setValue(Bucket(paths), for: host) }
            }
            self.portHosts = hosts.count { Self.namesPort($0) }
            self.wildcardHosts = []
            for pattern in wildcard.keys.sorted() {
                if let paths = wildcard[pattern]?.finish() { self.wildcardHosts.append((pattern, Bucket(paths))) }
            }
            self.anyHost = any.finish()
        }

        init(_ router: Router) {
            self.byID = router.byID
            self.exactHosts = router.exactHosts
            self.portHosts = router.portHosts
            self.wildcardHosts = router.wildcardHosts
            self.anyHost = router.anyHost.paths
        }

        /// Adds `route`, replacing the route with the same id if there is one.
        mutating func add(_ route: CompiledRoute) {
            if let old = self.byID.value(for: route.id) { self.unindex(old) }
            self.byID.setValue(route, for: route.id)
            if route.plainHosts.isEmpty && route.wildcardHosts.isEmpty { self.anyHost.add(route) }
            for h in route.plainHosts {
                self.takeExact(h)
                self.exact[h]?.add(route)
            }
            for p in route.wildcardHosts {
                self.takeWildcard(p)
                self.wildcard[p]?.add(route)
            }
        }

        mutating func remove(id: String) {
            guard let old = self.byID.value(for: id) else { return }
            self.unindex(old)
            self.byID.setValue(nil, for: id)
        }

        private mutating func unindex(_ route: CompiledRoute) {
            if route.plainHosts.isEmpty && route.wildcardHosts.isEmpty { self.anyHost.remove(route) }
            for h in route.plainHosts {
                self.takeExact(h)
                self.exact[h]?.remove(route)
            }
            for p in route.wildcardHosts {
                self.takeWildcard(p)
                self.wildcard[p]?.remove(route)
            }
        }

        private mutating func takeExact(_ host: String) {
            if self.exact[host] == nil { self.exact[host] = self.exactHosts.value(for: host)?.paths ?? PathIndex() }
        }

        private mutating func takeWildcard(_ pattern: String) {
            if self.wildcard[pattern] == nil {
                self.wildcard[pattern] = self.wildcardHosts.first { $0.pattern == pattern }?.bucket.paths ?? PathIndex()
            }
        }

        /// Puts the changed host buckets back; buckets left empty go.
        mutating func finish() {
            for (host, paths) in self.exact {
                let delta = self.exactHosts.modify(host) { bucket -> Int in
                    let existed = bucket != nil
                    bucket = paths.isEmpty ? nil : Bucket(paths)
                    return (bucket != nil ? 1 : 0) - (existed ? 1 : 0)
                }
                if Self.namesPort(host) { self.portHosts += delta }
            }
            self.exact = [:]
            if !self.wildcard.isEmpty {
                var list = self.wildcardHosts.filter { self.wildcard[$0.pattern] == nil }
                for (pattern, paths) in self.wildcard where !paths.isEmpty { list.append((pattern, Bucket(paths))) }
                self.wildcardHosts = list.sorted { $0.pattern < $1.pattern }
                self.wildcard = [:]
            }
        }

        static func namesPort(_ host: String) -> Bool {
            host.hasPrefix("[") ? host.contains("]:") : host.contains(":")
        }
    }
}
