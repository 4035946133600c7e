import GatewayModel

/// What a request matched: the route, the way it matched (for stripping), and the upstream path to use.
package struct RouteMatch: Sendable {
    package let route: CompiledRoute
    /// The part of the normalised path the route matched (a prefix, or a regex match), when it has paths.
    package let matched: Substring?
    package let normalizedPath: String
}

/// Kong's `traditional_compatible` router, compiled once per snapshot and updated in place of a rebuild for deltas.
///
/// Routes are indexed by host (exact hosts in a table, wildcard hosts in a short list, host-less routes apart) and,
/// inside each host bucket, by path (``PathIndex``). Among all ways a request matches, the one with the smallest
/// ``RouteRank`` wins, then the smallest route id.
///
/// Indexes hold the compiled routes themselves and every table is sharded (``ShardedTable``), so
/// ``updated(removing:upserting:)`` builds the next router from this one at a cost that follows the change, sharing
/// everything it does not touch. Immutable once built.
package final class Router: Sendable {
    final class Bucket: Sendable {
        let paths: PathIndex
        init(_ paths: PathIndex) { self.paths = paths }
    }

    /// The compiled routes by id: reused by the next snapshot, and how a delta finds the routes it replaces.
    let byID: ShardedTable<CompiledRoute>
    let exactHosts: ShardedTable<Bucket>
    /// How many exact hosts name a port (`host:port`); when none does, requests skip that lookup.
    let portHosts: Int
    /// Sorted by pattern.
    let wildcardHosts: [(pattern: String, bucket: Bucket)]
    let anyHost: Bucket

    /// How many routes the router holds.
    package var routeCount: Int { self.byID.count }

    /// The compiled route with this id, if any.
    package func route(id: String) -> CompiledRoute? { self.byID.value(for: id) }

    init(_ index: Index) {
        self.byID = index.byID
        self.exactHosts = index.exactHosts
        self.portHosts = index.portHosts
        self.wildcardHosts = index.wildcardHosts
        self.anyHost = Bucket(index.anyHost)
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
        var best: (rank: RouteRank, route: CompiledRoute, matched: Substring?)? = nil

        /// The best candidate of a list (sorted best first) that beats `best` and matches method and headers.
        func consider(_ candidates: UnsafeBufferPointer<PathIndex.Candidate>, matched: Substring?) {
            for i in candidates.indices {
                if let b = best, !candidates[i].precedes(b.rank, b.route) { break }
                if candidates[i].route.matchesMethodAndHeaders(method: method, header: header) {
                    best = (candidates[i].rank, candidates[i].route, matched)
                    break
                }
            }
        }

        func consider(_ bucket: Bucket) {
            // Plain prefixes, longest first; within one prefix, candidates are already in rank order.
            let utf8 = normalized.utf8
            for length in bucket.paths.lengths where length.length <= utf8.count {
                guard let candidates = bucket.paths.plain.value(forPrefixOf: normalized, length: length.length)
                else { continue }
                let prefix = normalized[..<utf8.index(utf8.startIndex, offsetBy: length.length)]
                candidates.withUnsafeBufferPointer { consider($0, matched: prefix) }
            }
            // Regexes are only tried on paths that start with their literal prefix.
            for length in bucket.paths.regexLengths where length.length <= utf8.count {
                for c in bucket.paths.regex.value(forPrefixOf: normalized, length: length.length) ?? [] {
                    if let b = best, !c.precedes(b.rank, b.route) { break }
                    let regex = c.route.regexPaths[c.regex]
                    guard let bytes = utf8.withContiguousStorageIfAvailable({ regex.firstMatch(in: $0) }) ?? regex.firstMatch(in: normalized)
                    else { continue }
                    if c.route.matchesMethodAndHeaders(method: method, header: header) {
                        let start = utf8.index(utf8.startIndex, offsetBy: bytes.lowerBound)
                        let end = utf8.index(utf8.startIndex, offsetBy: bytes.upperBound)
                        best = (c.rank, c.route, normalized[start..<end])
                        break
                    }
                }
            }
            bucket.paths.pathless.withUnsafeBufferPointer { consider($0, matched: nil) }
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
            if let b = self.exactHosts.value(for: String(bare)) { consider(b) }
            if self.portHosts > 0 {
                let withPort = h.count > bare.count ? h : "\(h):\(defaultPort)"
                if let b = self.exactHosts.value(for: withPort) { consider(b) }
            }
            for (pattern, bucket) in self.wildcardHosts where Self.wildcard(pattern, matches: bare) { consider(bucket) }
        }
        consider(self.anyHost)
        guard let best else { return nil }
        return RouteMatch(route: best.route, matched: best.matched, normalizedPath: normalized)
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
