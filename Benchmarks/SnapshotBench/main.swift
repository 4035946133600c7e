// Snapshot micro-benchmark: builds a configuration of R routes (default 100k, 100 per service) and C consumers
// (default 10k) through the declarative loader (full entities, every default filled in), then measures, over a
// bounded number of runs, what each plane does with it:
//   encode (control plane): row digests + config hash, canonical payload, zlib level 1;
//   decode (data plane): the payload back to a verified configuration in memory: inflate, parse + hash every
//     row, the configuration hash checked (what "decoding the encoding" costs);
//   apply (data plane): everything `SnapshotDecoder.decode` does before a configuration can serve: the decode,
//     then whole-config validation side by side with the route compile;
//   delta (one consumer / one route changed): diff + encode on the control plane, apply on the data plane.
// Run it in release:  swift run -c release snapshot-bench [routes] [consumers] [runs]
import DataPlane
import Foundation
import GatewayModel

let args = CommandLine.arguments
let routeCount = args.count > 1 ? max(1, min(Int(args[1]) ?? 100_000, 1_000_000)) : 100_000
let consumerCount = args.count > 2 ? max(0, min(Int(args[2]) ?? 10_000, 1_000_000)) : 10_000
let runs = args.count > 3 ? max(1, min(Int(args[3]) ?? 5, 50)) : 5

func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = ContinuousClock.now
    let value = try body()
    return (value, ms(ContinuousClock.now - start))
}

/// CPU time of the whole process (every thread) in milliseconds: on a busy machine, what a phase costs whatever
/// share of the cores it got.
func cpuMS() -> Double {
    // clock(): the process's CPU time in microseconds (POSIX fixes CLOCKS_PER_SEC at a million).
    Double(clock()) / 1000
}

/// `timed`, plus the CPU time the body used.
func timedCPU<T>(_ body: () throws -> T) rethrows -> (T, Double, Double) {
    let cpu = cpuMS()
    let (value, wall) = try timed(body)
    return (value, wall, cpuMS() - cpu)
}

func document(routes: Int, consumers: Int, tag: String = "") -> JSON {
    var services: [JSON] = []
    for s in 0..<((routes + 99) / 100) {
        let n = min(100, routes - s * 100)
        services.append([
            "name": .string("svc-\(s)"), "url": .string("http://10.0.\(s / 256 % 256).\(s % 256):8080/api"),
            "routes": .array((0..<n).map { r in
                ["name": .string("r-\(s)-\(r)"), "paths": [.string("/s\(s)/r\(r)")]]
            }),
        ])
    }
    let people: [JSON] = (0..<consumers).map { c in
        ["username": .string("user-\(c)\(c == 0 ? tag : "")"), "custom_id": .string("cid-\(c)")]
    }
    return ["_format_version": "3.0", "services": .array(services), "consumers": .array(people)]
}

func rows(_ content: ConfigContent) -> ConfigRows {
    var bodies: [String: [(id: String, body: String)]] = [:]
    for (type, list) in content.entities {
        bodies[type] = list.map { ($0["id"]?.stringValue ?? "", JSONWriter.string(.object($0))) }
    }
    return ConfigRows(bodies: bodies, trustedIPs: content.trustedIPs)
}

// As `portcullis data-plane` does at start: freed memory is kept for the next apply.
MemoryRetention.apply()
let now = Int64(Date().timeIntervalSince1970)
let (loaded, loadMS) = try timed { try DeclarativeLoader.load(document(routes: routeCount, consumers: consumerCount),
                                                               trustedIPs: [], now: now).get() }
print("configuration: \(routeCount) routes, \(consumerCount) consumers (built in \(Int(loadMS)) ms)")

var hashMS: [Double] = []
var canonicalMS: [Double] = []
var compressMS: [Double] = []
var decodeMS: [Double] = []
var phaseMS: [String: [Double]] = [:]
var phaseCPU: [String: [Double]] = [:]
var decodeCPU: [Double] = []
var payloadSize = 0
var compressedSize = 0
var applied: AppliedConfig?
var base = rows(loaded)
// The stored canonical bodies the control plane starts from (serialised once: not part of what is measured).
let bodies = loaded.entities.mapValues { $0.map { ($0["id"]?.stringValue ?? "", JSONWriter.string(.object($0))) } }
for _ in 0..<runs {
    let (r, h) = timed { ConfigRows(bodies: bodies, trustedIPs: []) }
    let (payload, c) = timed { r.canonicalBytes() }
    let (compressed, z) = try timed { try Deflate.compress(payload, level: 1) }
    let (config, d) = try timed {
        try SnapshotDecoder.decode(version: 1, hash: r.hash, size: payload.count, compressed: compressed,
                                   maxSize: 1 << 31, source: .controlPlane)
    }
    // The same decode, phase by phase.
    let (inflated, p1, c1) = try timedCPU { try Deflate.decompress(compressed, expectedSize: payload.count) }
    let (decoded, p2, c2) = try timedCPU { try IncrementalDecoder.decode(inflated, previous: nil) }
    let (problems, p3, c3) = timedCPU { ConfigValidator.problems(decoded, now: now) }
    let (_, p4, c4) = try timedCPU { try Router(content: decoded.content) }
    if !problems.isEmpty { print("invalid: \(problems.prefix(3))") }
    for (k, v) in [("inflate", p1), ("parse + hash", p2), ("validate", p3), ("compile routes", p4)] {
        phaseMS[k, default: []].append(v)
    }
    for (k, v) in [("inflate", c1), ("parse + hash", c2), ("validate", c3), ("compile routes", c4)] {
        phaseCPU[k, default: []].append(v)
    }
    decodeCPU.append(c1 + c2 + c3 + c4)
    hashMS.append(h)
    canonicalMS.append(c)
    compressMS.append(z)
    decodeMS.append(d)
    payloadSize = payload.count
    compressedSize = compressed.count
    applied = config
    base = r
}
let encodeTotal = median(hashMS) + median(canonicalMS) + median(compressMS)
print(String(format: "payload %.1f MB, compressed %.1f MB", Double(payloadSize) / 1e6, Double(compressedSize) / 1e6))
print(String(format: "encode (control plane): %.0f ms  [row digests + hash %.0f, canonical payload %.0f, zlib %.0f]",
             encodeTotal, median(hashMS), median(canonicalMS), median(compressMS)))
// Per run, so that the median is of whole decodes (not a sum of medians).
let payloadDecode = zip(phaseMS["inflate"] ?? [], phaseMS["parse + hash"] ?? []).map { $0 + $1 }
print(String(format: "decode (data plane):    %.0f ms  [inflate %.0f, parse + hash %.0f]", median(payloadDecode),
             median(phaseMS["inflate"] ?? [0]), median(phaseMS["parse + hash"] ?? [0])))
print(String(format: "apply (data plane):     %.0f ms  [decode, then validate %.0f side by side with compile routes %.0f]",
             median(decodeMS), median(phaseMS["validate"] ?? [0]), median(phaseMS["compile routes"] ?? [0])))
print(String(format: "decode CPU time, phases: %.0f ms  [inflate %.0f, parse + hash %.0f, validate %.0f, compile routes %.0f] (all threads)",
             median(decodeCPU), median(phaseCPU["inflate"] ?? [0]), median(phaseCPU["parse + hash"] ?? [0]),
             median(phaseCPU["validate"] ?? [0]), median(phaseCPU["compile routes"] ?? [0])))

// Deltas: one consumer renamed, then one route's path changed, each applied to the configuration served.
guard var current = applied else {
    print("no run completed")
    exit(1)
}
var rowsNow = base
for (label, change) in [("consumer", "consumers"), ("route", "routes")] {
    var diffMS: [Double] = []
    var applyMS: [Double] = []
    for run in 0..<runs {
        var entities = current.content.entities
        var list = entities[change] ?? []
        var e = list[run % list.count]
        if change == "consumers" { e["username"] = .string("renamed-\(run)") } else { e["paths"] = [.string("/moved/\(run)")] }
        list[run % list.count] = e
        entities[change] = list
        let next = ConfigContent(sortedEntities: entities, trustedIPs: [])
        let nextBodies = next.entities.mapValues { $0.map { ($0["id"]?.stringValue ?? "", JSONWriter.string(.object($0))) } }
        let nextRows = ConfigRows(bodies: nextBodies, trustedIPs: [])
        let (payload, d) = timed { rowsNow.delta(to: nextRows, only: [change]).encode() }
        let (config, a) = try timed {
            try SnapshotDecoder.apply(delta: payload, version: Int64(run + 2), hash: nextRows.hash,
                                      baseHash: current.hash, maxSize: 1 << 31, to: current)
        }
        diffMS.append(d)
        applyMS.append(a)
        current = config
        rowsNow = nextRows
    }
    print(String(format: "delta, one %@ changed: diff + encode %.2f ms (control plane), apply %.2f ms (data plane)",
                 label, median(diffMS), median(applyMS)))
}
