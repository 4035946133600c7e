import GatewayModel
import Testing

@Suite("Config hash and deltas")
struct ConfigDeltaTests {
    static let now: Int64 = 1_800_000_000

    /// A small deterministic generator (tests must not depend on the run).
    struct Rng {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            self.state = self.state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((self.state >> 33) % UInt64(n))
        }
    }

    static func service(_ n: Int) -> JSONObject {
        ["id": .string(UUIDString.v5("s:\(n)")), "name": .string("svc-\(n)"), "protocol": "http",
         "host": .string("upstream-\(n).internal"), "port": 8080, "path": .null, "retries": 5,
         "connect_timeout": 60000, "write_timeout": 60000, "read_timeout": 60000, "enabled": true,
         "tags": .null, "ca_certificates": .null, "tls_verify": .null, "tls_verify_depth": .null,
         "created_at": 1, "updated_at": 1]
    }

    static func route(_ n: Int, service: Int, version: Int = 0) -> JSONObject {
        ["id": .string(UUIDString.v5("r:\(n)")), "name": .string("route-\(n)"),
         "paths": .array([.string("/r\(n)/v\(version)")]), "service": ["id": .string(UUIDString.v5("s:\(service)"))],
         "protocols": ["http", "https"], "methods": .null, "hosts": .null, "headers": .null, "snis": .null,
         "sources": .null, "destinations": .null, "strip_path": true, "preserve_host": false, "regex_priority": 0,
         "path_handling": "v0", "https_redirect_status_code": 426, "request_buffering": true,
         "response_buffering": true, "tags": .null, "created_at": 1, "updated_at": .int(Int64(1 + version))]
    }

    static func content(services: [Int], routes: [Int: (service: Int, version: Int)]) -> ConfigContent {
        ConfigContent(entities: [
            "services": services.map(Self.service),
            "routes": routes.map { Self.route($0.key, service: $0.value.service, version: $0.value.version) },
        ], trustedIPs: ["10.0.0.0/8"])
    }

    static func rows(_ c: ConfigContent) -> ConfigRows {
        var bodies: [String: [(id: String, body: String)]] = [:]
        for (type, list) in c.entities {
            bodies[type] = list.map { ($0["id"]?.stringValue ?? "", JSONWriter.string(.object($0))) }
        }
        return ConfigRows(bodies: bodies, trustedIPs: c.trustedIPs)
    }

    @Test func everyWayOfHashingAgrees() throws {
        let c = Self.content(services: [1, 2], routes: [1: (1, 0), 2: (2, 0), 3: (1, 0)])
        let rows = Self.rows(c)
        let payload = c.canonicalBytes()
        #expect(rows.canonicalBytes() == payload)
        #expect(rows.canonicalSize == payload.count)
        #expect(try ConfigHash.of(payload: payload) == rows.hash)
        #expect(ConfigHash.of(c) == rows.hash)
        #expect(try IncrementalDecoder.decode(payload, previous: nil).hash == rows.hash)
        // Anything that differs (a row, the trusted sources) hashes differently.
        let other = Self.content(services: [1, 2], routes: [1: (1, 0), 2: (2, 1), 3: (1, 0)])
        #expect(ConfigHash.of(other) != rows.hash)
        #expect(ConfigHash.of(ConfigContent(entities: c.entities, trustedIPs: [])) != rows.hash)
        let empty = ConfigContent(entities: [:])
        #expect(Self.rows(empty).canonicalSize == empty.canonicalBytes().count)
    }

    @Test func deltasReachWhatAWholeDecodeReaches() throws {
        var rng = Rng(state: 42)
        var services = Set([0, 1, 2])
        var routes: [Int: (service: Int, version: Int)] = [:]
        for n in 0..<40 { routes[n] = (n % 3, 0) }
        var current = Self.content(services: services.sorted(), routes: routes)
        var decoded = try IncrementalDecoder.decode(current.canonicalBytes(), previous: nil)
        for step in 0..<60 {
            // A random batch: add, change, remove routes; sometimes add a service or remove an unused one.
            for _ in 0..<(1 + rng.next(5)) {
                let n = rng.next(60)
                switch rng.next(3) {
                case 0: routes[n] = (services.sorted()[rng.next(services.count)], step + 1)
                case 1: if let r = routes[n] { routes[n] = (r.service, step + 1) }
                default: routes[n] = nil
                }
            }
            if rng.next(4) == 0 { services.insert(3 + rng.next(5)) }
            let used = Set(routes.values.map(\.service))
            if rng.next(4) == 0, let unused = services.subtracting(used).first { services.remove(unused) }
            let next = Self.content(services: services.sorted(), routes: routes)
            let delta = Self.rows(current).delta(to: Self.rows(next))
            let viaDelta = try decoded.applying(try DecodedDelta.decode(delta.encode()))
            let whole = try IncrementalDecoder.decode(next.canonicalBytes(), previous: nil)
            #expect(viaDelta.hash == whole.hash)
            #expect(viaDelta.content == whole.content)
            #expect(viaDelta.canonicalBytes() == next.canonicalBytes())
            #expect(Self.rows(current).applying(delta).hash == whole.hash)
            #expect(ConfigValidator.deltaProblems(viaDelta, now: Self.now).isEmpty)
            #expect(Set(viaDelta.fresh.values.flatMap { $0 }).count + Set(viaDelta.removed.values.flatMap { $0 }).count
                == delta.rowCount)
            current = next
            decoded = viaDelta
        }
    }

    @Test func aDeltaThatDoesNotFitIsRefused() throws {
        let c = Self.content(services: [1], routes: [1: (1, 0)])
        let decoded = try IncrementalDecoder.decode(c.canonicalBytes(), previous: nil)
        var missing = ConfigDelta()
        missing.deletes["routes"] = [UUIDString.v5("r:99")]
        #expect(throws: ConfigContent.DecodeError.self) { try decoded.applying(try DecodedDelta.decode(missing.encode())) }
    }

    @Test(arguments: [
        "{\"delete\":{\"routes\":[\"b\",\"a\"]},\"upsert\":{}}",
        "{\"delete\":{\"widgets\":[\"a\"]},\"upsert\":{}}",
        "{\"delete\":{\"routes\":[1]},\"upsert\":{}}",
        "{\"delete\":{},\"upsert\":{\"routes\":[{\"name\":\"no id\"}]}}",
        "{\"delete\":{},\"upsert\":{\"routes\":[{\"id\":\"b\"},{\"id\":\"a\"}]}}",
        "{\"delete\":{\"routes\":[\"a\"]},\"upsert\":{\"routes\":[{\"id\":\"a\"}]}}",
        "{\"delete\":{}", "", "[]",
    ])
    func malformedDeltasAreErrors(text: String) {
        #expect(throws: ConfigContent.DecodeError.self) { try DecodedDelta.decode(Array(text.utf8)) }
    }

    @Test func deltaValidationCatchesWhatWholeValidationCatches() throws {
        let c = Self.content(services: [1, 2], routes: [1: (1, 0), 2: (2, 0)])
        let decoded = try IncrementalDecoder.decode(c.canonicalBytes(), previous: nil)
        let base = Self.rows(c)
        // Removing a service a route still uses leaves a dangling reference.
        var dangling = ConfigDelta()
        dangling.deletes["services"] = [UUIDString.v5("s:2")]
        let d1 = try decoded.applying(try DecodedDelta.decode(dangling.encode()))
        #expect(ConfigValidator.deltaProblems(d1, now: Self.now).contains { $0.contains("references a missing services") })
        #expect(!ConfigValidator.problems(d1.content, now: Self.now).isEmpty)
        // A new route that reuses another's name breaks uniqueness.
        var twin = Self.route(3, service: 1)
        twin["name"] = "route-1"
        let withTwin = ConfigContent(entities: c.entities.merging(["routes": c["routes"] + [twin]]) { $1 },
                                     trustedIPs: c.trustedIPs)
        let d2 = try decoded.applying(try DecodedDelta.decode(base.delta(to: Self.rows(withTwin)).encode()))
        #expect(ConfigValidator.deltaProblems(d2, now: Self.now).contains { $0.contains("UNIQUE violation") })
        // A changed route that breaks its schema is caught; an unchanged valid config is clean.
        var bad = Self.route(2, service: 2)
        bad["paths"] = ["no-leading-slash"]
        let withBad = ConfigContent(entities: c.entities.merging(["routes": c["routes"].filter { $0["id"] != bad["id"] } + [bad]]) { $1 },
                                    trustedIPs: c.trustedIPs)
        let d3 = try decoded.applying(try DecodedDelta.decode(base.delta(to: Self.rows(withBad)).encode()))
        #expect(ConfigValidator.deltaProblems(d3, now: Self.now).contains { $0.contains("paths") })
    }
}
