import Foundation
import GatewayModel
import Synchronization
import Testing

/// The control plane SIGKILLed at a random moment while concurrent writers keep the admin API busy: whatever it
/// answered 2xx is there after the restart, the database is sound, the snapshot history is consistent and the
/// data planes converge on the newest snapshot. 3 rounds in `make test`; `make soak` sets PORTCULLIS_SOAK_ROUNDS.
@Suite("Crash soak")
struct CrashSoakTests {
    static let writers = 4

    /// What the writers were told, across rounds.
    struct Ledger {
        /// Consumers whose creation was acknowledged and whose deletion was not attempted.
        var created: Set<String> = []
        /// Consumers whose deletion was acknowledged.
        var deleted: Set<String> = []
        /// Per writer's service: the highest `retries` value acknowledged.
        var retries: [String: Int] = [:]
        var acknowledged = 0
        var unanswered = 0
        var refused = 0
    }

    enum Outcome: Sendable {
        case acknowledged
        /// No HTTP answer (the connection died with the process): the write may or may not have happened.
        case unanswered
        /// A non-2xx answer.
        case refused(Int)
    }

    /// One write a writer made, and how it ended.
    enum Write: Sendable {
        case create(String, Outcome)
        case delete(String, Outcome)
        case patch(String, Int, Outcome)
    }

    /// One writer: creates consumers, deletes some it created, raises its own service's `retries`; stops at its
    /// first request without an answer (the control plane is gone).
    static func writer(_ index: Int, round: Int, admin: AdminHTTP, seed: UInt64, deletable: [String],
                       firstRetries: Int) async -> [Write]
    {
        var rng = SeededRandom(seed: seed)
        var writes: [Write] = []
        var deletable = deletable
        var retries = firstRetries
        var n = 0
        // Bounded: a control plane that is never killed still ends the round.
        while n < 400 {
            n += 1
            let dice = Int.random(in: 0..<10, using: &rng)
            let write: Write
            if dice < 2, let victim = deletable.popLast() {
                write = .delete(victim, await Self.send(admin, "DELETE", "/consumers/\(victim)", nil))
            } else if dice < 4 {
                retries += 1
                let body = #"{"retries":\#(retries)}"#
                write = .patch("w\(index)", retries, await Self.send(admin, "PATCH", "/services/w\(index)", body))
            } else {
                let name = "c-\(round)-\(index)-\(n)"
                let body = JSONWriter.string(["username": .string(name), "tags": ["soak", .string("round-\(round)")]])
                let outcome = await Self.send(admin, "POST", "/consumers", body)
                if case .acknowledged = outcome { deletable.insert(name, at: 0) }
                write = .create(name, outcome)
            }
            writes.append(write)
            switch write {
            case .create(_, .unanswered), .delete(_, .unanswered), .patch(_, _, .unanswered): return writes
            default: continue
            }
        }
        return writes
    }

    static func send(_ admin: AdminHTTP, _ method: String, _ path: String, _ body: String?) async -> Outcome {
        guard let reply = try? await admin.send(method, path, body: body) else { return .unanswered }
        return (200..<300).contains(reply.status) ? .acknowledged : .refused(reply.status)
    }

    @Test("kill -9 at random moments during concurrent admin writes loses nothing acknowledged")
    func killNineDuringWrites() async throws {
        let rounds = Soak.crashRounds
        let seed = Soak.seed
        Soak.report("crash test: \(rounds) rounds, seed \(seed) (PORTCULLIS_SOAK_SEED=\(seed) repeats the choices)")
        var rng = SeededRandom(seed: seed)
        let dir = try TempDir()
        let database = dir.path("portcullis.db")
        var cp = try await ControlPlaneProcess.start(in: dir, extra: ClusterTests.heartbeat)
        let dps = [try await DataPlaneProcess.start(in: dir, cache: "dp1"),
                   try await DataPlaneProcess.start(in: dir, cache: "dp2")]
        var admin = cp.admin()
        var ledger = Ledger()
        for w in 0..<Self.writers {
            try await admin.expect(201, "POST", "/services",
                                   body: #"{"name":"w\#(w)","url":"http://127.0.0.1:9/w","retries":0}"#)
            ledger.retries["w\(w)"] = 0
        }
        try await ClusterTests.converge(cp, dps)
        var deletable: [[String]] = Array(repeating: [], count: Self.writers)
        var retries = Array(repeating: 0, count: Self.writers)

        for round in 1...rounds {
            // Somewhere between a few writes in and a few dozen: never right after a particular answer.
            let killAfter = Duration.milliseconds(Int.random(in: 150...1500, using: &rng))
            let seeds = (0..<Self.writers).map { _ in rng.next() }
            let currentAdmin = admin
            let victim = cp
            let startDeletable = deletable
            let startRetries = retries
            let writes = try await withThrowingTaskGroup(of: (Int, [Write]).self) { group in
                for w in 0..<Self.writers {
                    group.addTask {
                        (w, await Self.writer(w, round: round, admin: currentAdmin, seed: seeds[w],
                                              deletable: startDeletable[w], firstRetries: startRetries[w]))
                    }
                }
                try await Task.sleep(for: killAfter)
                try await victim.crash()
                var all: [(Int, [Write])] = []
                for try await result in group { all.append(result) }
                return all
            }

            var roundAcks = 0
            for (w, list) in writes {
                for write in list {
                    switch write {
                    case .create(let name, .acknowledged):
                        ledger.created.insert(name)
                        deletable[w].insert(name, at: 0)
                        roundAcks += 1
                    case .delete(let name, .acknowledged):
                        ledger.created.remove(name)
                        ledger.deleted.insert(name)
                        deletable[w].removeAll { $0 == name }
                        roundAcks += 1
                    case .delete(let name, .unanswered):
                        // Maybe deleted, maybe not: no longer checked either way.
                        ledger.created.remove(name)
                        deletable[w].removeAll { $0 == name }
                        ledger.unanswered += 1
                    case .patch(let service, let value, .acknowledged):
                        ledger.retries[service] = max(ledger.retries[service] ?? 0, value)
                        retries[w] = max(retries[w], value)
                        roundAcks += 1
                    case .patch(_, let value, _):
                        retries[w] = max(retries[w], value)
                        if case .unanswered = write.outcome { ledger.unanswered += 1 } else { ledger.refused += 1 }
                    case .create(_, .unanswered):
                        ledger.unanswered += 1
                    case .create(_, .refused), .delete(_, .refused):
                        ledger.refused += 1
                    }
                }
            }
            ledger.acknowledged += roundAcks

            // The file as the crash left it: recovered and checked by another SQLite.
            let integrity = try await Soak.integrityCheck(database)
            #expect(integrity == "ok", "round \(round): integrity_check said \(integrity)")

            cp = try await ControlPlaneProcess.start(in: dir, extra: ClusterTests.heartbeat)
            admin = cp.admin()
            let status = try await admin.waitInSync()
            try await Self.verify(ledger, admin: admin, round: round)
            try await Self.verifyHistory(admin, status: status, round: round)
            let hash = try await ClusterTests.converge(cp, dps)
            #expect(hash == status["configuration_hash"]?.stringValue)
            Soak.report("round \(round): killed after \(killAfter), \(roundAcks) writes acknowledged, version "
                + "\(status["configuration_version"]?.intValue ?? -1), data planes on \(hash.prefix(12))")
        }
        Soak.report("crash test done: \(rounds) rounds, \(ledger.acknowledged) writes acknowledged and all found "
            + "(\(ledger.created.count) consumers present, \(ledger.deleted.count) deleted, \(ledger.retries.count) "
            + "counters), \(ledger.unanswered) unanswered at the kill, \(ledger.refused) refused")
        #expect(ledger.acknowledged > 0)
        for dp in dps { #expect(try await dp.stop() == 0) }
        #expect(try await cp.stop() == 0)
        #expect(try await Soak.integrityCheck(database) == "ok")
    }

    /// Every acknowledged write is there.
    static func verify(_ ledger: Ledger, admin: AdminHTTP, round: Int) async throws {
        let consumers = try await admin.all("/consumers", key: "username")
        let missing = ledger.created.subtracting(consumers.keys)
        #expect(missing.isEmpty, "round \(round): acknowledged consumers missing: \(missing.sorted().prefix(20))")
        let resurrected = ledger.deleted.intersection(consumers.keys)
        #expect(resurrected.isEmpty, "round \(round): acknowledged deletions undone: \(resurrected.sorted().prefix(20))")
        let services = try await admin.all("/services")
        for (name, acknowledged) in ledger.retries {
            // A PATCH in flight at the kill may have committed a higher value; never a lower one.
            let stored = services[name]?["retries"]?.intValue ?? -1
            #expect(stored >= Int64(acknowledged), "round \(round): \(name).retries is \(stored), \(acknowledged) was acknowledged")
        }
    }

    /// Versions strictly decreasing down the list, the newest one the current version, and its content both
    /// what the tables hold and what its hash says (recomputed here from the exported documents).
    static func verifyHistory(_ admin: AdminHTTP, status: JSON, round: Int) async throws {
        var versions: [Int64] = []
        var hashes: [Int64: String] = [:]
        var next: String? = "/snapshots?size=1000"
        var pages = 0
        while let page = next, pages < 100 {
            pages += 1
            let json = try await admin.expect(200, "GET", page)
            for row in json["data"]?.arrayValue ?? [] {
                let v = try #require(row["version"]?.intValue)
                versions.append(v)
                hashes[v] = row["hash"]?.stringValue
                #expect(row["hash"]?.stringValue?.count == 64)
            }
            next = json["next"]?.stringValue
        }
        #expect(!versions.isEmpty)
        #expect(zip(versions, versions.dropFirst()).allSatisfy { $0 > $1 },
                "round \(round): snapshot versions not strictly decreasing: \(versions.prefix(20))")
        let newest = try #require(versions.first)
        #expect(newest == status["configuration_version"]?.intValue)
        #expect(hashes[newest] == status["configuration_hash"]?.stringValue)

        let snapshot = try await admin.expect(200, "GET", "/snapshots/\(newest)")
        let tables = try await admin.expect(200, "GET", "/config?format=json")
        #expect(snapshot == tables, "round \(round): snapshot \(newest) differs from the tables")
        let rebuilt = try Self.hash(of: snapshot)
        #expect(rebuilt == hashes[newest], "round \(round): snapshot \(newest) rebuilt hashes to \(rebuilt)")
    }

    /// The configuration hash of an exported declarative document, computed from scratch.
    static func hash(of document: JSON) throws -> String {
        let trusted = (document["_trusted_ips"]?.arrayValue ?? []).compactMap(\.stringValue)
        let content = try DeclarativeLoader.load(document, trustedIPs: trusted, now: 0).get()
        return ConfigHash.of(content)
    }
}

extension CrashSoakTests.Write {
    var outcome: CrashSoakTests.Outcome {
        switch self {
        case .create(_, let o), .delete(_, let o), .patch(_, _, let o): return o
        }
    }
}
