// Router micro-benchmark: compiles N routes (default 100k) the way a data plane does and measures single
// match latencies (p50/p99/max) over a bounded number of requests, then the time to derive an updated router
// from it when 1 or 100 routes change (median/p99 over a bounded number of runs). Run it in release:
//   swift run -c release router-bench [routes] [requests]
import DataPlane
import Foundation
import GatewayModel

let args = CommandLine.arguments
let routeCount = args.count > 1 ? max(1, Int(args[1]) ?? 100_000) : 100_000
let requestCount = args.count > 2 ? max(1, min(Int(args[2]) ?? 200_000, 5_000_000)) : 200_000

func route(_ i: Int) -> JSONObject {
    // A realistic mix: most routes are host-less prefixes, some carry a host, a few a method or a regex.
    let s = i / 100
    var r: JSONObject = [
        "id": .string(UUIDString.v5("bench-route-\(i)")), "name": .string("r\(i)"),
        "paths": [.string(i % 97 == 0 ? "~/s\(s)/r\(i % 100)/\\d+$" : "/s\(s)/r\(i % 100)")],
        "protocols": ["http", "https"], "strip_path": true, "regex_priority": 0,
        "https_redirect_status_code": 426, "preserve_host": false,
    ]
    if i % 10 == 0 { r["hosts"] = [.string("h\(s % 50).example.com")] }
    if i % 7 == 0 { r["methods"] = ["GET", "POST"] }
    return r
}

let content = ConfigContent(entities: ["routes": (0..<routeCount).map(route)])
let compileStart = ContinuousClock.now
let router = try Router(content: content)
let compile = ContinuousClock.now - compileStart

// Requests that hit existing routes (and some misses), chosen before timing.
var generator = SystemRandomNumberGenerator()
let requests: [(path: String, host: String?)] = (0..<4096).map { n in
    let i = Int.random(in: 0..<routeCount, using: &generator)
    let s = i / 100
    let miss = n % 16 == 0
    let path = miss ? "/nothing/here/\(n)" : (i % 97 == 0 ? "/s\(s)/r\(i % 100)/42" : "/s\(s)/r\(i % 100)/users/7")
    return (path, i % 10 == 0 ? "h\(s % 50).example.com" : nil)
}

func nanos(_ d: Duration) -> Double { Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9 }

var hits = 0
for r in requests { if router.match(method: "GET", host: r.host, path: Substring(r.path), defaultPort: 80, header: { _ in [] }) != nil { hits += 1 } }
var samples: [Double] = []
samples.reserveCapacity(requestCount)
let clock = ContinuousClock()
let deadline = clock.now + .seconds(60)
for n in 0..<requestCount {
    let r = requests[n & 4095]
    let t0 = clock.now
    let m = router.match(method: "GET", host: r.host, path: Substring(r.path), defaultPort: 80, header: { _ in [] })
    let t1 = clock.now
    if m != nil { hits &+= 0 }
    samples.append(nanos(t1 - t0))
    if n & 1023 == 0, clock.now > deadline { break }
}
samples.sort()
let sorted = samples
func pct(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))] }
print("router-bench: \(routeCount) routes compiled in \(String(format: "%.1f", nanos(compile) / 1e6)) ms; "
      + "\(hits) of 4096 sample requests match")
print(String(format: "match latency over %d requests: p50 %.2f µs, p99 %.2f µs, max %.2f µs (target p99 <= 5 µs)",
             samples.count, pct(0.5) / 1000, pct(0.99) / 1000, (samples.last ?? 0) / 1000))

// Deltas: replace k random routes (new paths, so index keys move) in the router above, each run from the same router.
func changed(_ i: Int, run: Int) -> JSONObject {
    var r = route(i)
    r["paths"] = [.string("/s\(i / 100)/r\(i % 100)/v\(run)")]
    return r
}

@MainActor
func updateTimes(changing k: Int, runs: Int) throws -> [Double] {
    var times: [Double] = []
    let deadline = clock.now + .seconds(30)
    for run in 0..<runs {
        let entities = (0..<k).map { _ in changed(Int.random(in: 0..<routeCount, using: &generator), run: run) }
        let t0 = clock.now
        let next = try router.updated(removing: [], upserting: entities)
        let t1 = clock.now
        precondition(next.routeCount == router.routeCount)
        times.append(nanos(t1 - t0))
        if clock.now > deadline { break }
    }
    return times.sorted()
}

func summary(_ sorted: [Double]) -> String {
    func at(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))] / 1000 }
    return String(format: "median %.1f µs, p99 %.1f µs (%d runs)", at(0.5), at(0.99), sorted.count)
}

let one = try updateTimes(changing: 1, runs: 500)
let hundred = try updateTimes(changing: 100, runs: 100)
print("updated(removing:upserting:): 1 route changed: \(summary(one)); 100 routes changed: \(summary(hundred))")

// For comparison: the full path with reuse, Router(content:previous:changed:) with 1 route changed.
var rebuilds: [Double] = []
let rows = content["routes"]
for run in 0..<5 where !rows.isEmpty {
    var changedRows = rows
    let j = Int.random(in: 0..<rows.count, using: &generator)
    changedRows[j]["paths"] = [.string("/changed/\(run)")]
    let next = ConfigContent(entities: ["routes": changedRows])
    let id = rows[j]["id"]?.stringValue ?? ""
    let t0 = clock.now
    let rebuilt = try Router(content: next, previous: router, changed: [id])
    let t1 = clock.now
    precondition(rebuilt.routeCount == router.routeCount)
    rebuilds.append(nanos(t1 - t0))
}
rebuilds.sort()
print(String(format: "Router(content:previous:changed:), 1 route changed: median %.1f ms (%d runs)",
             (rebuilds.isEmpty ? 0 : rebuilds[rebuilds.count / 2]) / 1e6, rebuilds.count))
