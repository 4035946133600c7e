import Foundation
package import GatewayModel

/// What a request matched: the route, the way it matched (for stripping), and the upstream path to use.
package struct RouteMatch: Sendable {
    package let route: CompiledRoute
    /// The part of the normalised path the route matched (a prefix, or a regex match), when it has paths.
    package let matched: Substring?
    package let normalizedPath: String
}

/// Kong's `traditional_compatible` router, compiled once per snapshot.
///
/// Routes are indexed by host (exact hosts in a dictionary, wildcard hosts in a short list, host-less routes
/// apart) and, inside each host bucket, plain path prefixes by their exact text, looked up for each distinct
/// prefix length: the cost of a match depends on the number of distinct path lengths and regex routes, not on
/// the number of routes. Among all ways a request matches, the one with the smallest ``RouteRank`` wins.
package final class Router: Sendable {
    final class Bucket: Sendable {
        /// Normalised prefix → (route index, rank), best rank first.
        let plain: [String: [(Int, RouteRank)]]
        /// Distinct prefix lengths, longest first.
        let lengths: [Int]
        /// Regexes by their literal prefix: prefix → (route index, regex index, rank), best rank first.
        let regex: [String: [(Int, Int, RouteRank)]]
        /// Distinct regex prefix lengths, longest first (0 = regexes without a literal prefix).
        let regexLengths: [Int]
        /// Routes without paths, best rank first.
        let pathless: [(Int, RouteRank)]

        init(plain: [String: [(Int, RouteRank)]], regex: [String: [(Int, Int, RouteRank)]], pathless: [(Int, RouteRank)]) {
            self.plain = plain.mapValues { $0.sorted { $0.1 < $1.1 } }
            self.lengths = Set(plain.keys.map(\.utf8.count)).sorted(by: >)
            self.regex = regex.mapValues { $0.sorted { $0.2 < $1.2 } }
            self.regexLengths = Set(regex.keys.map(\.utf8.count)).sorted(by: >)
            self.pathless = pathless.sorted { $0.1 < $1.1 }
        }
    }

    package let routes: [CompiledRoute]
    /// The compiled routes by id, for the next snapshot to reuse.
    let byID: [String: CompiledRoute]
    let exactHosts: [String: Bucket]
    /// Whether any exact host names a port (`host:port`); when none does, requests skip that lookup.
    let portHosts: Bool
    let wildcardHosts: [(pattern: String, bucket: Bucket)]
    let anyHost: Bucket

    /// Compiles the routes of a configuration.
    ///
    /// - Parameters:
    ///   - previous: the router of the configuration served now;
    ///   - changed: ids of routes that are new or changed since then. Other routes are taken from `previous`
    ///     as they were compiled; without `changed`, every route is compiled.
    package init(content: ConfigContent, previous: Router? = nil, changed: Set<String>? = nil) throws(RouterError) {
        var routes: [CompiledRoute] = []
        var byID: [String: CompiledRoute] = [:]
        routes.reserveCapacity(content["routes"].count)
        byID.reserveCapacity(content["routes"].count)
        for e in content["routes"] {
            let id = e["id"]?.stringValue ?? ""
            let compiled: CompiledRoute
            if let changed, !changed.contains(id), let reused = previous?.byID[id] {
                compiled = reused
            } else {
                compiled = try CompiledRoute(e)
            }
            routes.append(compiled)
            byID[id] = compiled
        }
        self.routes = routes
        self.byID = byID

        struct Builder {
            var plain: [String: [(Int, RouteRank)]] = [:]
            var regex: [String: [(Int, Int, RouteRank)]] = [:]
            var pathless: [(Int, RouteRank)] = []
        }
        var exact: [String: Builder] = [:]
        var wild: [String: Builder] = [:]
        var any = Builder()
        func add(_ b: inout Builder, _ i: Int, _ r: CompiledRoute) {
            // The serial (position in the snapshot, routes sorted by id) is the final, deterministic tie-break.
            let base = RouteRank(kinds: r.kinds, wildcardHost: r.wildcardHosts.isEmpty ? 0 : 1, headers: r.headers.count,
                                 regex: 1, regexPriority: 0, pathLength: 0, serial: i)
            if r.plainPaths.isEmpty && r.regexPaths.isEmpty {
                b.pathless.append((i, base))
                return
            }
            for p in r.plainPaths {
                var rank = base
                rank.pathLength = p.utf8.count
                b.plain[p, default: []].append((i, rank))
            }
            for (n, prefix) in r.regexPrefixes.enumerated() {
                var rank = base
                rank.regex = 0
                rank.regexPriority = r.regexPriority
                b.regex[prefix, default: []].append((i, n, rank))
            }
        }
        for (i, r) in routes.enumerated() {
            if r.plainHosts.isEmpty && r.wildcardHosts.isEmpty { add(&any, i, r) }
            for h in r.plainHosts { add(&exact[h, default: Builder()], i, r) }
            for h in r.wildcardHosts { add(&wild[h, default: Builder()], i, r) }
        }
        self.portHosts = exact.keys.contains { $0.hasPrefix("[") ? $0.contains("]:") : $0.contains(":") }
        self.exactHosts = exact.mapValues { Bucket(plain: $0.plain, regex: $0.regex, pathless: $0.pathless) }
        self.wildcardHosts = wild.map { ($0.key, Bucket(plain: $0.value.plain, regex: $0.value.regex, pathless: $0.value.pathless)) }
            .sorted { $0.pattern < $1.pattern }
        self.anyHost = Bucket(plain: any.plain, regex: any.regex, pathless: any.pathless)
    }

    /// The best route for a request, or nil (Kong's 404).
    ///
    /// - Parameters:
    ///   - host: the Host header as sent (case and port as given), nil when absent.
    ///   - path: the request path without the query string, not yet normalised.
    ///   - header: values of a request header by lowercased name.
    package func match(method: String, host: String?, path: Substring, defaultPort: Int,
                       header: (String) -> [String]) -> RouteMatch?
    {
        let normalized = PathNormalizer.normalize(path)
        var best: (rank: RouteRank, route: Int, matched: Substring?)? = nil

        func consider(_ bucket: Bucket) {
            // Plain prefixes, longest first; within one prefix, candidates are already in rank order.
            let utf8 = normalized.utf8
            for length in bucket.lengths where length <= utf8.count {
                let end = utf8.index(utf8.startIndex, offsetBy: length)
                let prefix = normalized[..<end]
                guard let candidates = bucket.plain[String(prefix)] else { continue }
                for (i, rank) in candidates {
                    if let b = best, !(rank < b.rank) { break }
                    if self.routes[i].matchesMethodAndHeaders(method: method, header: header) {
                        best = (rank, i, prefix)
                        break
                    }
                }
            }
            // Regexes are only tried on paths that start with their literal prefix.
            for length in bucket.regexLengths where length <= utf8.count {
                let key = String(normalized[..<utf8.index(utf8.startIndex, offsetBy: length)])
                for (i, n, rank) in bucket.regex[key] ?? [] {
                    if let b = best, !(rank < b.rank) { break }
                    let regex = self.routes[i].regexPaths[n]
                    let ns = normalized as NSString
                    guard let m = regex.firstMatch(in: normalized, range: NSRange(location: 0, length: ns.length)),
                        let range = Range(m.range, in: normalized)
                    else { continue }
                    if self.routes[i].matchesMethodAndHeaders(method: method, header: header) {
                        best = (rank, i, normalized[range])
                        break
                    }
                }
            }
            for (i, rank) in bucket.pathless {
                if let b = best, !(rank < b.rank) { break }
                if self.routes[i].matchesMethodAndHeaders(method: method, header: header) {
                    best = (rank, i, nil)
                    break
                }
            }
        }

        if let host, !self.exactHosts.isEmpty || !self.wildcardHosts.isEmpty {
            let h = host.lowercased()
            let bare: Substring
            if h.hasPrefix("["), let close = h.firstIndex(of: "]") {
                bare = h[...close]
            } else if let colon = h.lastIndex(of: ":") {
                bare = h[..<colon]
            } else {
                bare = h[...]
            }
            if let b = self.exactHosts[String(bare)] { consider(b) }
            if self.portHosts {
                let withPort = h.count > bare.count ? h : "\(h):\(defaultPort)"
                if let b = self.exactHosts[withPort] { consider(b) }
            }
            for (pattern, bucket) in self.wildcardHosts where Self.wildcard(pattern, matches: bare) { consider(bucket) }
        }
        consider(self.anyHost)
        guard let best else { return nil }
        return RouteMatch(route: self.routes[best.route], matched: best.matched, normalizedPath: normalized)
    }

    /// `*.example.com` matches any name ending in `.example.com`; `example.*` any name starting with `example.`.
    static func wildcard(_ pattern: String, matches host: Substring) -> Bool {
        if pattern.hasPrefix("*") {
            let suffix = pattern.dropFirst()
            return host.count > suffix.count && host.hasSuffix(suffix)
        }
        if pattern.hasSuffix("*") {
            let prefix = pattern.dropLast()
            return host.count > prefix.count && host.hasPrefix(prefix)
        }
        return false
    }
}

extension RouteMatch {
    /// The path sent upstream under Kong's `path_handling: v0`: the service path joined with the request path,
    /// minus the matched part when the route strips it.
    package func upstreamPath(servicePath: String?) -> String {
        var remaining = Substring(self.normalizedPath)
        if self.route.stripPath, let matched = self.matched {
            remaining = remaining.dropFirst(matched.count)
        }
        let base = servicePath ?? "/"
        if remaining.isEmpty { return base }
        if base.hasSuffix("/") {
            return remaining.hasPrefix("/") ? base + remaining.dropFirst() : base + remaining
        }
        return remaining.hasPrefix("/") ? base + remaining : base + "/" + remaining
    }
}
