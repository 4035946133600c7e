@testable import DataPlane
import Testing

/// `ShardedTable` against a `Dictionary` model: inserts, updates and removals in a seeded random order, through
/// the sizes where its Bloom filter is created, outgrown and rebuilt after many removals, and copies that share
/// storage and must not see each other's changes.
@Suite struct ShardedTableTests {
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var z = self.state
            z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z &>> 31)
        }
    }

    static func check(_ table: ShardedTable<Int>, against model: [String: Int], probes: Int, _ g: inout SeededGenerator) {
        #expect(table.count == model.count)
        for (key, value) in model { #expect(table.value(for: key) == value, "key \(key)") }
        for _ in 0..<probes {
            let key = "/absent/\(g.next() % 1_000_000)"
            #expect(table.value(for: key) == model[key])
        }
    }

    @Test(arguments: [1 as UInt64, 2, 3])
    func agreesWithADictionary(seed: UInt64) {
        var g = SeededGenerator(state: seed)
        var table = ShardedTable<Int>()
        var model: [String: Int] = [:]
        // Grow past the filter's threshold and several rebuilds, then remove most keys, then grow again.
        for phase in [(inserts: 3000, removes: 0), (inserts: 0, removes: 2500), (inserts: 1500, removes: 300)] {
            for n in 0..<phase.inserts {
                let key = "/k/\(g.next() % 5000)"
                table.setValue(n, for: key)
                model[key] = n
            }
            for _ in 0..<phase.removes {
                guard let key = model.keys.randomElement(using: &g) else { break }
                table.setValue(nil, for: key)
                model[key] = nil
            }
            Self.check(table, against: model, probes: 500, &g)
        }
    }

    @Test func copiesDoNotShareChanges() {
        var g = SeededGenerator(state: 9)
        var table = ShardedTable<Int>(minimumCapacity: 2000)
        var model: [String: Int] = [:]
        for n in 0..<2000 {
            table.setValue(n, for: "/p/\(n)")
            model["/p/\(n)"] = n
        }
        var copy = table
        var copyModel = model
        for n in 0..<400 {
            copy.setValue(nil, for: "/p/\(n)")
            copyModel["/p/\(n)"] = nil
            copy.setValue(n, for: "/q/\(n)")
            copyModel["/q/\(n)"] = n
        }
        Self.check(table, against: model, probes: 200, &g)
        Self.check(copy, against: copyModel, probes: 200, &g)
        #expect(table.value(for: "/q/1") == nil)
        #expect(copy.value(for: "/p/1") == nil)
    }
}
