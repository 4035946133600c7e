import Foundation
import FuzzTargets
import GatewayModel
import TestSupport
import Testing

/// The fuzz targets without libFuzzer: every committed seed, then a few thousand deterministic mutations of them,
/// through the same entry points `make fuzz` drives. A crash here is a regression of something fuzzing found (or
/// would find); the seeds must also still reach the end of their target (accepted), or the corpus has gone stale.
struct FuzzTargetTests {
    static func seeds(_ target: FuzzTarget) throws -> [(name: String, bytes: [UInt8])] {
        let dir = Repo.root.appendingPathComponent("Fuzz/Corpus/\(target.rawValue)")
        return try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted().map { name in
            (name, [UInt8](try Data(contentsOf: dir.appendingPathComponent(name))))
        }
    }

    /// Seeds that are meant to be refused (the rest must be accepted): a truncated certificate, and leaves sent
    /// without their intermediate (the verifier trusts only the root, so their path cannot be built).
    static let refusedSeeds: Set<String> = [
        "chain-verifier/leaf-truncated.der", "header-url-encoded/alb-leaf", "header-url-encoded/nginx-leaf",
        "header-base64/leaf-der", "header-rfc9440/leaf", "header-xfcc/two-hops-cert",
    ]

    @Test(arguments: FuzzTarget.allCases)
    func seedsReachTheEnd(_ target: FuzzTarget) throws {
        let seeds = try Self.seeds(target)
        #expect(seeds.count >= 2, "Fuzz/Corpus/\(target.rawValue) needs seeds")
        for (name, bytes) in seeds {
            let outcome = target.run(bytes)
            let refused = Self.refusedSeeds.contains("\(target.rawValue)/\(name)")
            #expect(outcome.isAccepted != refused, "\(target.rawValue)/\(name): \(outcome)")
        }
    }

    @Test func generatedSeedsAreCommitted() throws {
        #expect(FuzzFixtures.base != nil)
        let generated = FuzzSeeds.generated()
        #expect(generated.count >= 6)
        for (target, name, bytes) in generated {
            let committed = try Self.seeds(target).first { $0.name == name }?.bytes
            #expect(committed == bytes,
                    "Fuzz/Corpus/\(target.rawValue)/\(name) is stale: run portcullis-fuzz --write-seeds Fuzz/Corpus")
        }
    }

    /// 400 mutations per target (4,000 in all) from a fixed seed: the same inputs on every run.
    @Test(arguments: FuzzTarget.allCases)
    func mutationsNeverCrash(_ target: FuzzTarget) throws {
        let seeds = try Self.seeds(target).map(\.bytes)
        var mutator = Mutator(seed: 0x5EED_0000 &+ UInt64(target.rawValue.utf8.count) &* 7919
                                    &+ UInt64(target.rawValue.utf8.reduce(0) { $0 &* 31 &+ Int($1) }.magnitude))
        var refused = 0
        for i in 0..<400 {
            let input = mutator.mutate(seeds[i % seeds.count], others: seeds)
            if !target.run(input).isAccepted { refused += 1 }
        }
        // Mutations that break the syntax are refused with a reason, not accepted and not crashing.
        #expect(refused > 0)
    }
}

/// Deterministic mutations in libFuzzer's spirit: bit flips, byte changes, inserted syntax, deleted, duplicated
/// and spliced ranges, each input getting one to four of them.
struct Mutator {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed }

    /// SplitMix64.
    private mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(self.next() % UInt64(n)) }

    private static let tokens: [[UInt8]] = [
        "%", "%0", "%ZZ", "=", "==", ":", ";", ",", "\"", "\\", "{", "}", "[", "]", "[]", "\n", "\r\n", "\0",
        "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----", "null", "1e999", "-0", "\\u0000", "\\ud800",
        "&a[1]=", ".", "--", "&&", "*anchor", "&anchor", "!!binary", "- ", ": ", "0x7fffffff",
    ].map { Array($0.utf8) } + [[0xFF], [0xC0, 0x80], [0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF], [0x30, 0x80]]

    mutating func mutate(_ input: [UInt8], others: [[UInt8]]) -> [UInt8] {
        var out = input
        for _ in 0...self.below(4) {
            let at = self.below(out.count + 1)
            switch self.below(7) {
            case 0 where !out.isEmpty:
                out[min(at, out.count - 1)] ^= UInt8(1) << UInt8(self.below(8))
            case 1 where !out.isEmpty:
                out[min(at, out.count - 1)] = UInt8(truncatingIfNeeded: self.next())
            case 2:
                out.insert(contentsOf: Self.tokens[self.below(Self.tokens.count)], at: at)
            case 3 where !out.isEmpty:
                out.removeSubrange(at..<min(out.count, at + 1 + self.below(32)))
            case 4 where !out.isEmpty:
                let start = self.below(out.count)
                let piece = out[start..<min(out.count, start + 1 + self.below(64))]
                out.insert(contentsOf: Array(piece), at: at)
            case 5:
                let other = others[self.below(others.count)]
                let start = self.below(other.count)
                out.replaceSubrange(at..<min(out.count, at + self.below(64)),
                                    with: other[start..<min(other.count, start + self.below(256))])
            default:
                out.removeSubrange(min(at, out.count)...)
                if out.isEmpty { out = [UInt8(truncatingIfNeeded: self.next())] }
            }
        }
        return out
    }
}
