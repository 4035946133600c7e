import DataPlane
import GatewayModel
import Testing

@Suite struct RouterTests {
    /// A route entity as the control plane stores it (defaults filled).
    static func route(_ name: String, paths: [String] = [], hosts: [String] = [], methods: [String] = [],
                      headers: [String: [String]] = [:], regexPriority: Int64 = 0, strip: Bool = true,
                      protocols: [String] = ["http", "https"]) -> JSONObject
    {
        [
            "id": .string(UUIDString.v5("route:\(name)")), "name": .string(name),
            "paths": paths.isEmpty ? .null : .array(paths.map(JSON.string)),
            "hosts": hosts.isEmpty ? .null : .array(hosts.map(JSON.string)),
            "methods": methods.isEmpty ? .null : .array(methods.map(JSON.string)),
            "headers": headers.isEmpty ? .null : .object(JSONObject(headers) { .array($0.map(JSON.string)) }),
            "regex_priority": .int(regexPriority), "strip_path": .bool(strip), "preserve_host": false,
            "protocols": .array(protocols.map(JSON.string)), "https_redirect_status_code": 426,
        ]
    }

    static func router(_ routes: [JSONObject]) throws -> Router {
        try Router(content: ConfigContent(entities: ["routes": routes]))
    }

    static func name(_ r: Router, _ path: String, method: String = "GET", host: String? = nil,
                     headers: [String: [String]] = [:]) -> String?
    {
        r.match(method: method, host: host, path: Substring(path), defaultPort: 80) { headers[$0] ?? [] }?
            .route.name
    }

    @Test func longestPrefixWinsAndPrefixesAreCharacterWise() throws {
        let r = try Self.router([Self.route("a", paths: ["/a"]), Self.route("ab", paths: ["/a/b"]),
                                 Self.route("root", paths: ["/"])])
        #expect(Self.name(r, "/a/b/c") == "ab")
        #expect(Self.name(r, "/a/bc") == "ab")
        #expect(Self.name(r, "/a") == "a")
        #expect(Self.name(r, "/abc") == "a")
        #expect(Self.name(r, "/zzz") == "root")
        let none = try Self.router([Self.route("a", paths: ["/a"])])
        #expect(Self.name(none, "/b") == nil)
    }

    @Test func moreAttributeKindsWin() throws {
        let r = try Self.router([Self.route("path", paths: ["/api"]),
                                 Self.route("path+method", paths: ["/api"], methods: ["POST"]),
                                 Self.route("path+method+host", paths: ["/"], hosts: ["api.example.com"], methods: ["POST"])])
        #expect(Self.name(r, "/api/x", method: "GET") == "path")
        #expect(Self.name(r, "/api/x", method: "POST") == "path+method")
        #expect(Self.name(r, "/api/x", method: "POST", host: "API.example.com") == "path+method+host")
    }

    @Test func hosts() throws {
        let r = try Self.router([
            Self.route("exact", hosts: ["api.example.com"]), Self.route("left", hosts: ["*.example.com"]),
            Self.route("right", hosts: ["api.example.*"]), Self.route("port", hosts: ["svc.example.org:8443"]),
        ])
        #expect(Self.name(r, "/", host: "api.example.com") == "exact")
        #expect(Self.name(r, "/", host: "api.example.com:8000") == "exact")
        #expect(Self.name(r, "/", host: "www.example.com") == "left")
        #expect(Self.name(r, "/", host: "a.b.example.com") == "left")
        #expect(Self.name(r, "/", host: "api.example.net") == "right")
        #expect(Self.name(r, "/", host: "example.com") == nil)
        #expect(Self.name(r, "/", host: "svc.example.org:8443") == "port")
        #expect(Self.name(r, "/", host: "svc.example.org") == nil)
        #expect(Self.name(r, "/") == nil)
    }

    @Test func headersMatchCaseInsensitivelyAndMoreHeadersWin() throws {
        let r = try Self.router([
            Self.route("one", paths: ["/"], headers: ["x-version": ["v1", "v2"]]),
            Self.route("two", paths: ["/"], headers: ["x-version": ["v1"], "x-tier": ["gold"]]),
        ])
        #expect(Self.name(r, "/", headers: ["x-version": ["V2"]]) == "one")
        #expect(Self.name(r, "/", headers: ["x-version": ["v1"], "x-tier": ["GOLD"]]) == "two")
        #expect(Self.name(r, "/", headers: ["x-version": ["v3"]]) == nil)
    }

    @Test func regexBeforePlainOrderedByRegexPriority() throws {
        let r = try Self.router([
            Self.route("plain", paths: ["/users/42"]),
            Self.route("regex-low", paths: ["~/users/\\d+$"], regexPriority: 1),
            Self.route("regex-high", paths: ["~/users/4\\d$"], regexPriority: 5),
        ])
        #expect(Self.name(r, "/users/42") == "regex-high")
        #expect(Self.name(r, "/users/7") == "regex-low")
        #expect(Self.name(r, "/v1/users/7") == nil)  // anchored at the start
        #expect(Self.name(r, "/users/42/x") == "plain")
    }

    @Test func regexesWithAndWithoutLiteralPrefixes() throws {
        let r = try Self.router([
            Self.route("optional-s", paths: ["~/users?/\\d+$"]),
            Self.route("alternation", paths: ["~/(cats|dogs)/\\d+$"]),
            Self.route("dot", paths: ["~/v1.0/x"]),
        ])
        #expect(Self.name(r, "/user/1") == "optional-s")
        #expect(Self.name(r, "/users/1") == "optional-s")
        #expect(Self.name(r, "/dogs/3") == "alternation")
        #expect(Self.name(r, "/v1x0/x") == "dot")
        #expect(Self.name(r, "/birds/3") == nil)
    }

    @Test func pathNormalisation() throws {
        #expect(PathNormalizer.normalize("//a/./b/../c") == "/a/c")
        #expect(PathNormalizer.normalize("/a/%7euser") == "/a/~user")
        #expect(PathNormalizer.normalize("/a%2fb") == "/a%2Fb")
        #expect(PathNormalizer.normalize("/a/b/..") == "/a/")
        #expect(PathNormalizer.normalize("/../../x") == "/x")
        let r = try Self.router([Self.route("tilde", paths: ["/~user"])])
        #expect(Self.name(r, "/%7Euser/x") == "tilde")
        #expect(Self.name(r, "/a/../~user") == "tilde")
    }

    @Test(arguments: [
        // service path, route path, strip, request, upstream (Kong's path_handling v0 table)
        ("/s", "/tv0", true, "/tv0/req", "/s/req"),
        ("/s", "/tv0", false, "/tv0/req", "/s/tv0/req"),
        ("/s", "/tv0", true, "/tv0", "/s"),
        ("/s/", "/tv0", true, "/tv0/req", "/s/req"),
        ("/", "/tv0", true, "/tv0/req", "/req"),
        ("/", "/tv0", true, "/tv0", "/"),
        ("/s", "/tv0/", true, "/tv0/req", "/s/req"),
    ])
    func upstreamPaths(servicePath: String, routePath: String, strip: Bool, request: String, expected: String) throws {
        let r = try Self.router([Self.route("r", paths: [routePath], strip: strip)])
        let m = try #require(r.match(method: "GET", host: nil, path: Substring(request), defaultPort: 80) { _ in [] })
        #expect(m.upstreamPath(servicePath: servicePath) == expected)
    }

    @Test func ties_areDeterministic() throws {
        let routes = [Self.route("b", paths: ["/x"]), Self.route("a", paths: ["/x"])]
        let first = Self.name(try Self.router(routes), "/x")
        #expect(Self.name(try Self.router(routes.reversed()), "/x") == first)
    }

    @Test func manyRoutesStillMatchTheRightOne() throws {
        var routes: [JSONObject] = []
        for s in 0..<200 {
            for n in 0..<50 {
                routes.append(Self.route("r-\(s)-\(n)", paths: ["/s\(s)/r\(n)"], hosts: s % 2 == 0 ? ["h\(s).example.com"] : []))
            }
        }
        let r = try Self.router(routes)
        #expect(Self.name(r, "/s7/r12/x") == "r-7-12")
        #expect(Self.name(r, "/s8/r3", host: "h8.example.com") == "r-8-3")
        #expect(Self.name(r, "/s8/r3", host: "other.example.com") == nil)
        #expect(Self.name(r, "/s199/r49") == "r-199-49")
    }

    @Test func recompilesOnlyChangedRoutes() throws {
        let a = Self.route("a", paths: ["/a"])
        let b = Self.route("b", paths: ["/b"])
        let first = try Self.router([a, b])
        var b2 = b
        b2["paths"] = ["/b2"]
        let c = Self.route("c", paths: ["/c"])
        let changed: Set<String> = [b2["id"]?.stringValue ?? "", c["id"]?.stringValue ?? ""]
        let second = try Router(content: ConfigContent(entities: ["routes": [a, b2, c]]), previous: first, changed: changed)
        #expect(Self.name(second, "/b2") == "b")
        #expect(Self.name(second, "/b") == nil)
        #expect(Self.name(second, "/c") == "c")
        #expect(Self.name(second, "/a") == "a")
        let idA = a["id"]?.stringValue ?? ""
        let idB = b["id"]?.stringValue ?? ""
        #expect(second.routeCount == 3)
        #expect(second.route(id: idA) != nil)
        #expect(second.route(id: idA) === first.route(id: idA))
        #expect(second.route(id: idB) !== first.route(id: idB))
    }

    @Test func invalidRegexIsACompileError() {
        #expect(throws: RouterError.self) { try Self.router([Self.route("bad", paths: ["~/(unclosed"])]) }
    }
}
