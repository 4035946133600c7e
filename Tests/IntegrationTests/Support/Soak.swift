import Foundation
import GatewayModel
import Testing

/// The knobs of the long-running variants: `make test` runs the short defaults, `make soak` sets the variables.
enum Soak {
    /// Rounds of the control plane crash test (`PORTCULLIS_SOAK_ROUNDS`, default 3).
    static var crashRounds: Int { self.integer("PORTCULLIS_SOAK_ROUNDS", default: 3, range: 1...10_000) }
    /// Seconds the control plane stays down under load (`PORTCULLIS_SOAK_OUTAGE_SECONDS`, default 5).
    static var outageSeconds: Int { self.integer("PORTCULLIS_SOAK_OUTAGE_SECONDS", default: 5, range: 1...3600) }
    /// Whether the slow scenarios run (`PORTCULLIS_SOAK=1`, set by `make soak`).
    static var enabled: Bool { ProcessInfo.processInfo.environment["PORTCULLIS_SOAK"] == "1" }
    /// The seed of the crash test's random choices (`PORTCULLIS_SOAK_SEED`; a fresh one, printed, otherwise).
    static var seed: UInt64 {
        if let text = ProcessInfo.processInfo.environment["PORTCULLIS_SOAK_SEED"], let seed = UInt64(text) { return seed }
        return UInt64.random(in: 1...UInt64(UInt32.max))
    }

    static func integer(_ name: String, default value: Int, range: ClosedRange<Int>) -> Int {
        guard let text = ProcessInfo.processInfo.environment[name], let n = Int(text), range.contains(n) else {
            return value
        }
        return n
    }

    /// One line of figures on stdout (the `make soak` log keeps them).
    static func report(_ line: String) {
        FileHandle.standardOutput.write(Data("[soak] \(line)\n".utf8))
    }

    /// `PRAGMA integrity_check` by the sqlite3 CLI; returns its output ("ok" when the file is sound).
    static func integrityCheck(_ database: String) async throws -> String {
        let result = try await Subprocess.run(URL(fileURLWithPath: "/usr/bin/sqlite3"),
                                              [database, "PRAGMA integrity_check;"], timeout: .seconds(60))
        guard result.exitedNormally, result.status == 0 else {
            throw AdminHTTP.Failure(description: "sqlite3 \(database) failed: \(result)")
        }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// SplitMix64: a reproducible sequence from a printed seed.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension AdminHTTP {
    /// Every entity of a collection (all pages, 1000 at a time), keyed by `key`.
    func all(_ path: String, key: String = "name") async throws -> JSONObject {
        var out: JSONObject = [:]
        var next: String? = path + (path.contains("?") ? "&" : "?") + "size=1000"
        var pages = 0
        while let page = next {
            pages += 1
            guard pages <= 1000 else { throw Failure(description: "\(path): more than 1000 pages") }
            let json = try await self.expect(200, "GET", page)
            for entity in json["data"]?.arrayValue ?? [] {
                if let k = entity[key]?.stringValue { out[k] = entity }
            }
            next = json["next"]?.stringValue
        }
        return out
    }
}
