import DataPlane
import GatewayModel
import Testing

/// `Router.updated(removing:upserting:)` must behave exactly as a fresh compile of the resulting routes.
@Suite struct RouterUpdateTests {
    /// SplitMix64: the same seed gives the same routes, batches and requests on every run.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var z = self.state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct Request {
        var method: String
        var host: String?
        var path: String
        var headers: [String: [String]]
    }

    /// Pools the random routes and requests draw from: small pools make many routes share hosts, paths and ranks
    /// (ties broken by id); large ones make tables big enough to be split into several shards.
    struct Shape: Sendable, CustomStringConvertible {
        var seed: UInt64
        var initial: Int
        var batches: Int
        /// Per batch, at most this many removals, replacements and additions.
        var maxRemove: Int
        var maxReplace: Int
        var maxAdd: Int
        var hosts: [String]
        var paths: [String]
        var requestPaths: [String]
        var description: String { "seed \(self.seed), \(self.initial) routes, \(self.paths.count) paths" }
    }

    static let regexPaths = ["~/a/\\d+$", "~/a/b/.*", "~/(a|b)/x", "~/u/\\d+", "~/a/b?", "~/p1\\d"]

    static let dense = Shape(
        seed: 42, initial: 60, batches: 60, maxRemove: 6, maxReplace: 6, maxAdd: 6,
        hosts: ["a.example.com", "b.example.com", "c.example.com:8443", "[::1]:8080", "*.example.com", "a.example.*"],
        paths: ["/", "/a", "/a/b", "/ab", "/b", "/a/b/c", "/c", "/u"],
        requestPaths: ["/", "/a", "/a/", "/a/b", "/a/b/c/d", "/ab", "/a/12", "/a/b/x", "/b/x", "/u/7", "/c", "/zz",
                       "/a/x", "/p17"])

    static let sharded = Shape(
        seed: 7, initial: 1500, batches: 12, maxRemove: 150, maxReplace: 150, maxAdd: 150,
        hosts: Self.manyHosts, paths: Self.manyPaths, requestPaths: Self.manyRequestPaths)

    /// From nothing, by updates only: tables grow through several shard counts.
    static let growing = Shape(
        seed: 2024, initial: 0, batches: 14, maxRemove: 40, maxReplace: 40, maxAdd: 240,
        hosts: Self.manyHosts, paths: Self.manyPaths, requestPaths: Self.manyRequestPaths)

    static let manyHosts =
        (0..<400).map { "h\($0).example.com" } + ["*.example.com", "h1.example.*", "h2.example.com:81"]
    static let manyPaths = (0..<900).map { "/p\($0)" }
    static let manyRequestPaths = (0..<900).map { "/p\($0)/x" } + ["/", "/a/1", "/p1"]

    static func randomID(_ g: inout SeededGenerator) -> String {
        let hex = Array("0123456789abcdef")
        var s = ""
        for n in 0..<32 {
            if n == 8 || n == 12 || n == 16 || n == 20 { s.append("-") }
            s.append(hex[Int.random(in: 0..<16, using: &g)])
        }
        switch Int.random(in: 0..<20, using: &g) {
        case 0: return s.uppercased()           // valid, but not canonical: ordered through the fallback
        case 1: return String(s.prefix(9))      // not a UUID: its order key is that of the first UUID it starts
        default: return s
        }
    }

    static func randomRoute(id: String, _ shape: Shape, _ g: inout SeededGenerator) -> JSONObject {
        var hosts: [String] = []
        for _ in 0..<[0, 0, 1, 1, 2].randomElement(using: &g, default: 0) {
            hosts.append(shape.hosts.randomElement(using: &g, default: "x"))
        }
        var paths: [String] = []
        for _ in 0..<[0, 1, 1, 1, 2].randomElement(using: &g, default: 1) {
            if Int.random(in: 0..<4, using: &g) == 0 {
                paths.append(Self.regexPaths.randomElement(using: &g, default: "~/"))
            } else {
                paths.append(shape.paths.randomElement(using: &g, default: "/"))
            }
        }
        if hosts.isEmpty && paths.isEmpty && Bool.random(using: &g) { paths = ["/"] }
        let methods = [[], [], ["GET"], ["POST", "GET"], ["PUT"]].randomElement(using: &g, default: [])
        let headers: [String: [String]] = [[:], [:], [:], ["x-v": ["1"]], ["x-v": ["1", "2"], "x-t": ["gold"]]]
            .randomElement(using: &g, default: [:])
        var route = RouterTests.route("r-\(id)", paths: paths, hosts: hosts, methods: methods, headers: headers,
                                      regexPriority: Int64.random(in: 0...2, using: &g))
        route["id"] = .string(id)
        return route
    }

    static func randomRequest(_ shape: Shape, _ g: inout SeededGenerator) -> Request {
        let hosts: [String?] = [nil, "a.example.com", "A.example.com:80", "b.example.com", "c.example.com:8443",
                                "c.example.com", "x.example.com", "a.example.org", "[::1]:8080", "h3.example.com",
                                "h1.example.net", "h2.example.com:81", "h2.example.com"]
        let host = Bool.random(using: &g) ? shape.hosts.randomElement(using: &g) : hosts.randomElement(using: &g) ?? nil
        return Request(
            method: ["GET", "POST", "PUT"].randomElement(using: &g, default: "GET"),
            host: host?.contains("*") == true ? "w.example.com" : host,
            path: shape.requestPaths.randomElement(using: &g, default: "/"),
            headers: [[:], ["x-v": ["1"]], ["x-v": ["2"], "x-t": ["GOLD"]], ["x-v": ["3"]]]
                .randomElement(using: &g, default: [:]))
    }

    static func outcome(_ r: Router, _ q: Request) -> String {
        guard let m = r.match(method: q.method, host: q.host, path: Substring(q.path), defaultPort: 80,
                              header: { q.headers[$0] ?? [] })
        else { return "none" }
        return "\(m.route.id) \(m.matched.map(String.init) ?? "-") \(m.normalizedPath)"
    }

    static func fresh(_ routes: [String: JSONObject]) throws -> Router {
        try Router(content: ConfigContent(entities: ["routes": Array(routes.values)]))
    }

    /// The first request on which two routers disagree, described; nil when they agree on all of them.
    static func disagreement(_ a: Router, _ b: Router, _ requests: [Request]) -> String? {
        for q in requests {
            let x = Self.outcome(a, q)
            let y = Self.outcome(b, q)
            if x != y { return "\(q.method) \(q.host ?? "-") \(q.path) \(q.headers): \(x) vs \(y)" }
        }
        return nil
    }

    @Test(arguments: [RouterUpdateTests.dense, RouterUpdateTests.sharded, RouterUpdateTests.growing])
    func randomBatchesMatchAFreshCompile(_ shape: Shape) throws {
        var g = SeededGenerator(state: shape.seed)
        var model: [String: JSONObject] = [:]
        for _ in 0..<shape.initial {
            let id = Self.randomID(&g)
            model[id] = Self.randomRoute(id: id, shape, &g)
        }
        var router = try Self.fresh(model)
        let requests = (0..<400).map { _ in Self.randomRequest(shape, &g) }
        #expect(Self.disagreement(router, try Self.fresh(model), requests) == nil)

        for batch in 0..<shape.batches {
            var removing: Set<String> = []
            var upserting: [JSONObject] = []
            let ids = model.keys.sorted()
            for _ in 0..<Int.random(in: 0...shape.maxRemove, using: &g) {
                if let id = ids.randomElement(using: &g) { removing.insert(id) }
            }
            if Int.random(in: 0..<4, using: &g) == 0 { removing.insert(Self.randomID(&g)) }  // not present: ignored
            for _ in 0..<Int.random(in: 0...shape.maxReplace, using: &g) {  // replacements, some of removed ids
                if let id = ids.randomElement(using: &g) { upserting.append(Self.randomRoute(id: id, shape, &g)) }
            }
            for _ in 0..<Int.random(in: 0...shape.maxAdd, using: &g) {
                upserting.append(Self.randomRoute(id: Self.randomID(&g), shape, &g))
            }
            let before = router
            let beforeModel = model
            router = try router.updated(removing: removing, upserting: upserting)
            for id in removing { model[id] = nil }
            for e in upserting { model[e["id"]?.stringValue ?? ""] = e }

            let expected = try Self.fresh(model)
            let problem = Self.disagreement(router, expected, requests)
            // The router it was built from is untouched (its storage is shared, never changed).
            let old = Self.disagreement(before, try Self.fresh(beforeModel), requests.prefix(100).map { $0 })
            guard router.routeCount == model.count, problem == nil, old == nil else {
                #expect(router.routeCount == model.count, "batch \(batch)")
                #expect(problem == nil, "batch \(batch): updated vs fresh: \(problem ?? "")")
                #expect(old == nil, "batch \(batch): previous router changed: \(old ?? "")")
                return  // one batch's report is enough
            }
        }
        #expect(router.routeCount > 0)
    }

    static func name(_ r: Router, _ path: String, method: String = "GET", host: String? = nil) -> String? {
        RouterTests.name(r, path, method: method, host: host)
    }

    static func id(_ route: JSONObject) -> String { route["id"]?.stringValue ?? "" }

    @Test func replacingARouteChangesItsRank() throws {
        let a = RouterTests.route("a", paths: ["/x"])
        let b = RouterTests.route("b", paths: ["/x"])
        let first = try RouterTests.router([a, b])
        let loser = Self.id(a) < Self.id(b) ? b : a
        let winner = Self.id(a) < Self.id(b) ? a : b
        #expect(Self.name(first, "/x") == winner["name"]?.stringValue)

        var promoted = loser
        promoted["methods"] = ["GET"]  // one more attribute kind
        let second = try first.updated(removing: [], upserting: [promoted])
        #expect(second.routeCount == 2)
        #expect(Self.name(second, "/x") == loser["name"]?.stringValue)
        #expect(Self.name(second, "/x", method: "POST") == winner["name"]?.stringValue)
        #expect(Self.name(first, "/x") == winner["name"]?.stringValue)  // unchanged

        var moved = promoted
        moved["paths"] = ["/y"]
        let third = try second.updated(removing: [], upserting: [moved])
        #expect(Self.name(third, "/x") == winner["name"]?.stringValue)
        #expect(Self.name(third, "/y") == loser["name"]?.stringValue)
        #expect(third.route(id: Self.id(loser))?.entity["paths"] == ["/y"])
    }

    @Test func removingTheLastRouteOfAHostBucket() throws {
        let host = RouterTests.route("host", paths: ["/"], hosts: ["only.example.com"])
        let port = RouterTests.route("port", paths: ["/"], hosts: ["svc.example.com:8443"])
        let wild = RouterTests.route("wild", paths: ["/"], hosts: ["*.example.net"])
        let any = RouterTests.route("any", paths: ["/"])
        let r = try RouterTests.router([host, port, wild, any])
        #expect(Self.name(r, "/", host: "only.example.com") == "host")
        #expect(Self.name(r, "/", host: "svc.example.com:8443") == "port")
        #expect(Self.name(r, "/", host: "a.example.net") == "wild")

        let without = try r.updated(removing: [Self.id(host), Self.id(port), Self.id(wild)], upserting: [])
        #expect(without.routeCount == 1)
        #expect(Self.name(without, "/", host: "only.example.com") == "any")
        #expect(Self.name(without, "/", host: "svc.example.com:8443") == "any")
        #expect(Self.name(without, "/", host: "a.example.net") == "any")

        let back = try without.updated(removing: [], upserting: [host, port, wild])
        #expect(Self.name(back, "/", host: "only.example.com") == "host")
        #expect(Self.name(back, "/", host: "svc.example.com:8443") == "port")
        #expect(Self.name(back, "/", host: "a.example.net") == "wild")
        #expect(Self.name(back, "/", host: "svc.example.com") == "any")
    }

    @Test func removingTheLastPrefixOfALength() throws {
        let short = RouterTests.route("short", paths: ["/a"])
        let long = RouterTests.route("long", paths: ["/abc"])
        let regex = RouterTests.route("regex", paths: ["~/abc/\\d+$"])
        let r = try RouterTests.router([short, long, regex])
        #expect(Self.name(r, "/abcd") == "long")
        #expect(Self.name(r, "/abc/1") == "regex")

        let shorter = try r.updated(removing: [Self.id(long), Self.id(regex)], upserting: [])
        #expect(Self.name(shorter, "/abcd") == "short")
        #expect(Self.name(shorter, "/abc/1") == "short")
        #expect(Self.name(shorter, "/b") == nil)

        let empty = try shorter.updated(removing: [Self.id(short)], upserting: [])
        #expect(empty.routeCount == 0)
        #expect(Self.name(empty, "/abcd") == nil)

        let again = try empty.updated(removing: [], upserting: [long, regex])
        #expect(Self.name(again, "/abcd") == "long")
        #expect(Self.name(again, "/abc/1") == "regex")
        #expect(Self.name(again, "/a") == nil)
    }

    /// Ids of every shape: canonical UUIDs (some sharing long prefixes), upper-case ones, prefixes and extensions of
    /// UUIDs, other ASCII text around the characters a UUID allows, and non-ASCII text (including a combining mark).
    static let mixedIDs: [String] = {
        let u = ["0f3c2a10-9b7d-4c1e-8f00-123456789abc", "0f3c2a10-9b7d-4c1e-8f00-123456789abd",
                 "0f3c2a10-9b7d-4c1e-8f00-12345678aaaa", "0f3c2a1f-0000-0000-0000-000000000000",
                 "ffffffff-ffff-ffff-ffff-ffffffffffff", "00000000-0000-0000-0000-000000000000",
                 "a0000000-0000-0000-0000-000000000000", "9fffffff-ffff-ffff-ffff-ffffffffffff"]
        var ids = u
        ids += u.map { $0.uppercased() }.filter { !u.contains($0) }
        ids += ["0f3c2a10-9b7d-4c1e-8f00-123456789abc-x", "0f3c2a10-9b7d-4c1e-8f00-123456789abc0",
                "ffffffff-ffff-ffff-ffff-ffffffffffff!", "0f3c2a10", "0f3c2a10-", "0f3c2a10-9", "0f3c2a10_9b7d",
                "0f3c2a10.9b7d", "0f3c2a10-9b7d-4c1e-8f00-123456789ab", "0f3c2a10-9b7d-4c1e-8f00-123456789ab-",
                "0f3c2a10-9b7d-4c1e-8f00-123456789abg", "0f3c2a10-9b7d-4c1e-8f00-123456789ab:", "", "-", "/", "9",
                "9:", ":", "A", "Z", "`", "a", "f", "fg", "g", "zzz", "~", "route-one", "route-two", "0f3c2a1g",
                "0f3c2a10-9b7d-4c1e-8f00-123456789abé", "0f3c2a10-9b7d-4c1e-8f00-123456789abc\u{301}",
                "0f3c2a1e\u{301}", "é", "ü-route", "日本", "0f3c2a10-9b7d-4c1e-8f00-12345678\u{1F600}"]
        return ids
    }()

    @Test func tiesGoToTheSmallestIDAcrossInsertionsAndRemovals() throws {
        var g = SeededGenerator(state: 99)
        let ids = Self.mixedIDs.shuffled(using: &g)
        #expect(Set(ids).count == ids.count)
        func route(_ id: String) -> JSONObject {
            var r = RouterTests.route(id, paths: ["/same"])
            r["id"] = .string(id)
            return r
        }
        func winner(_ r: Router) -> String? {
            r.match(method: "GET", host: nil, path: "/same/x", defaultPort: 80) { _ in [] }?.route.id
        }
        var router = try RouterTests.router([])
        var present: [String] = []
        for id in ids {
            router = try router.updated(removing: [], upserting: [route(id)])
            present.append(id)
            guard winner(router) == present.min() else {
                Issue.record("after inserting \(id): \(winner(router) ?? "none") wins, not \(present.min() ?? "none")")
                return
            }
        }
        #expect(winner(try RouterTests.router(present.map(route))) == present.min())
        // Remove winners one by one: the rest come out in `String` order.
        var order: [String] = []
        while let w = winner(router) {
            order.append(w)
            router = try router.updated(removing: [w], upserting: [])
        }
        #expect(order == ids.sorted())
        #expect(router.routeCount == 0)
    }

    @Test func anInvalidRegexLeavesNothingChanged() throws {
        let a = RouterTests.route("a", paths: ["/a"])
        let r = try RouterTests.router([a])
        #expect(throws: RouterError.self) {
            try r.updated(removing: [Self.id(a)], upserting: [RouterTests.route("bad", paths: ["~/(unclosed"])])
        }
        #expect(Self.name(r, "/a") == "a")
    }
}

extension Collection {
    fileprivate func randomElement<G: RandomNumberGenerator>(using g: inout G, default value: Element) -> Element {
        self.randomElement(using: &g) ?? value
    }
}
