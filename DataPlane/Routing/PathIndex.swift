/// The routes of one host bucket (an exact host, a wildcard pattern, or no host), indexed by path.
///
/// Plain path prefixes are looked up by their exact text, once per distinct prefix length: the cost of a match
/// depends on the number of distinct lengths and of regex prefixes, not on the number of routes. A value type whose
/// tables share storage between copies: adding or removing a route copies only the shards it touches.
struct PathIndex: Sendable {
    /// One way a route can match in this bucket.
    struct Candidate: Sendable {
        let route: CompiledRoute
        /// For a regex candidate, which of the route's regexes.
        let regex: Int
        let rank: RouteRank

        /// Whether this candidate wins over a match of `route` with `rank`: by rank, and by id when the ranks are
        /// equal in every field.
        @inline(__always)
        func precedes(_ rank: RouteRank, _ route: CompiledRoute) -> Bool {
            if self.rank < rank { return true }
            if rank < self.rank { return false }
            return self.route !== route && self.route.id < route.id
        }
    }

    /// A prefix length and how many keys of the table have it.
    struct Length: Sendable {
        let length: Int
        var keys: Int
    }

    /// Normalised plain prefix → candidates, best first.
    private(set) var plain = ShardedTable<[Candidate]>()
    /// Distinct lengths of the keys of ``plain``, longest first.
    private(set) var lengths: [Length] = []
    /// Literal prefixes of regex paths → candidates, best first.
    private(set) var regex = ShardedTable<[Candidate]>()
    /// Distinct lengths of the keys of ``regex``, longest first (0: regexes without a literal prefix).
    private(set) var regexLengths: [Length] = []
    /// Routes without paths, best first.
    private(set) var pathless: [Candidate] = []

    var isEmpty: Bool { self.plain.isEmpty && self.regex.isEmpty && self.pathless.isEmpty }

    init() {}

    /// Where a candidate goes: under a plain prefix, under a regex's literal prefix, or with the routes without paths.
    enum Placement {
        case plain(String)
        case regex(String)
        case pathless
    }

    /// Every way `route` matches by path, with its rank. A route listing a path twice has it twice, harmlessly.
    static func candidates(of route: CompiledRoute, _ body: (Placement, Candidate) -> Void) {
        let base = RouteRank(route: route)
        if route.plainPaths.isEmpty && route.regexPaths.isEmpty {
            body(.pathless, Candidate(route: route, regex: 0, rank: base))
            return
        }
        for p in route.plainPaths {
            var rank = base
            rank.pathLength = Int32(clamping: p.utf8.count)
            body(.plain(p), Candidate(route: route, regex: 0, rank: rank))
        }
        for (n, prefix) in route.regexPrefixes.enumerated() {
            var rank = base
            rank.regex = 0
            rank.regexPriority = route.regexPriority
            body(.regex(prefix), Candidate(route: route, regex: n, rank: rank))
        }
    }

    mutating func add(_ route: CompiledRoute) {
        Self.candidates(of: route) { slot, c in
            switch slot {
            case .plain(let key): Self.insert(c, at: key, into: &self.plain, lengths: &self.lengths)
            case .regex(let key): Self.insert(c, at: key, into: &self.regex, lengths: &self.regexLengths)
            case .pathless: Self.insert(c, into: &self.pathless)
            }
        }
    }

    /// Removes what ``add(_:)`` indexed for `route` (the same instance); keys left without candidates go.
    mutating func remove(_ route: CompiledRoute) {
        Self.candidates(of: route) { slot, _ in
            switch slot {
            case .plain(let key): Self.remove(route, at: key, from: &self.plain, lengths: &self.lengths)
            case .regex(let key): Self.remove(route, at: key, from: &self.regex, lengths: &self.regexLengths)
            case .pathless: self.pathless.removeAll { $0.route === route }
            }
        }
    }

    /// Collects the candidates of many routes, then sorts them once (no upkeep per insertion).
    struct Builder {
        private var index = PathIndex()

        /// - Parameter expectedKeys: about how many plain prefixes there will be, to size the table once.
        init(expectedKeys: Int = 0) {
            self.index.plain = ShardedTable(minimumCapacity: expectedKeys)
        }

        mutating func add(_ route: CompiledRoute) {
            PathIndex.candidates(of: route) { slot, c in
                switch slot {
                case .plain(let key): Self.append(c, at: key, to: &self.index.plain, lengths: &self.index.lengths)
                case .regex(let key): Self.append(c, at: key, to: &self.index.regex, lengths: &self.index.regexLengths)
                case .pathless: self.index.pathless.append(c)
                }
            }
        }

        private static func append(_ c: Candidate, at key: String, to table: inout ShardedTable<[Candidate]>,
                                   lengths: inout [Length])
        {
            let isNew = table.modify(key) { list -> Bool in
                if list == nil {
                    list = [c]
                    return true
                }
                list?.append(c)
                return false
            }
            if isNew { PathIndex.count(key.utf8.count, by: 1, in: &lengths) }
        }

        /// Sorts the candidates in place (call it once) and returns the index.
        mutating func finish() -> PathIndex {
            func sort(_ list: inout [Candidate]) {
                if list.count > 1 { list.sort { $0.precedes($1.rank, $1.route) } }
            }
            self.index.plain.updateValues(sort)
            self.index.regex.updateValues(sort)
            sort(&self.index.pathless)
            return self.index
        }
    }

    private static func insert(_ c: Candidate, into list: inout [Candidate]) {
        // After every candidate that precedes it: the list stays sorted, equal ones in insertion order.
        var low = 0
        var high = list.count
        while low < high {
            let middle = (low + high) / 2
            if c.precedes(list[middle].rank, list[middle].route) { high = middle } else { low = middle + 1 }
        }
        list.insert(c, at: low)
    }

    private static func insert(_ c: Candidate, at key: String, into table: inout ShardedTable<[Candidate]>,
                               lengths: inout [Length])
    {
        let isNew = table.modify(key) { list -> Bool in
            var candidates = list ?? []
            list = nil  // `candidates` holds the only reference: inserting does not copy
            Self.insert(c, into: &candidates)
            list = candidates
            return candidates.count == 1
        }
        if isNew { Self.count(key.utf8.count, by: 1, in: &lengths) }
    }

    private static func remove(_ route: CompiledRoute, at key: String, from table: inout ShardedTable<[Candidate]>,
                               lengths: inout [Length])
    {
        let emptied = table.modify(key) { list -> Bool in
            guard var candidates = list else { return false }
            list = nil
            candidates.removeAll { $0.route === route }
            if candidates.isEmpty { return true }
            list = candidates
            return false
        }
        if emptied { Self.count(key.utf8.count, by: -1, in: &lengths) }
    }

    /// Adds `delta` to the key count of `length`; a length whose count reaches 0 leaves the list.
    private static func count(_ length: Int, by delta: Int, in lengths: inout [Length]) {
        // Longest first; lists are short (one entry per distinct length).
        var i = 0
        while i < lengths.count && lengths[i].length > length { i += 1 }
        if i < lengths.count && lengths[i].length == length {
            lengths[i].keys += delta
            if lengths[i].keys <= 0 { lengths.remove(at: i) }
        } else if delta > 0 {
            lengths.insert(Length(length: length, keys: delta), at: i)
        }
    }
}
