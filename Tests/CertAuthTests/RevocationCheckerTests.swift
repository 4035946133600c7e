import Foundation
import Testing

@testable import CertAuth
import TestSupport

/// OCSP and CRL checks against the real OpenSSL responder and CRLs served on loopback (``RevocationPKI``).
struct RevocationCheckerTests {
    struct NotVerified: Error, CustomStringConvertible {
        var description: String
    }

    let pki: RevocationPKI
    let store: TrustStore
    let now = Int64(Date().timeIntervalSince1970)

    init() async throws {
        self.pki = try await RevocationPKI.load()
        self.store = try TrustStore(pems: [self.pki.root.pem])
    }

    func checker(timeout: Duration = .seconds(5), ttl: Int64 = 60) throws -> RevocationChecker {
        let configuration = RevocationChecker.Configuration(timeout: timeout, cacheTTL: ttl)
        return try #require(RevocationChecker(trustStore: self.store, allowPartialChain: false,
                                              configuration: configuration))
    }

    /// The verified chain leaf → intermediate → root of leaf `name`.
    func verified(_ name: String) throws -> VerifiedCertificate {
        let leaf = try self.pki.leaf(name)
        let verdict = ChainVerifier(trustStore: self.store)
            .verify(PresentedChain(leaf: leaf.der, intermediates: [self.pki.intermediate.der]), at: self.now)
        guard case .trusted(let verified) = verdict else { throw NotVerified(description: "\(name): \(verdict)") }
        return verified
    }

    func leafStatus(_ name: String, _ checker: RevocationChecker) async throws -> CertificateRevocation {
        let target = try #require(try self.verified(name).revocationTargets.first)
        return await checker.status(of: target, now: self.now)
    }

    @Test("the verifier records the leaf and the intermediate as targets, with their OCSP and CRL URLs")
    func targets() throws {
        let targets = try self.verified("good").revocationTargets
        #expect(targets.count == 2)
        #expect(targets.map(\.depth) == [0, 1])
        #expect(targets[0].ocspURLs == ["http://127.0.0.1:\(self.pki.server.port)/ocsp/good"])
        #expect(targets[0].crlURLs.isEmpty)
        #expect(targets[0].issuer == self.pki.intermediate.der)
        #expect(targets[1].crlURLs == ["http://127.0.0.1:\(self.pki.server.port)/crl/root.crl"])
        #expect(targets[1].issuer == self.pki.root.der)
    }

    @Test("good via OCSP (delegated responder and issuer-signed); the intermediate good via the root's CRL")
    func goodViaOCSP() async throws {
        let checker = try self.checker()
        let status = await checker.check(try self.verified("good").revocationTargets, now: self.now)
        #expect(status == .good)
        #expect(try await self.leafStatus("good", checker) == .good(.ocsp))
        #expect(try await self.leafStatus("issuer-signed", checker) == .good(.ocsp))
        #expect(self.pki.server.count("/ocsp/good") == 1)
        #expect(self.pki.server.count("/crl/root.crl") >= 1)
    }

    @Test("revoked via OCSP, with the reason")
    func revokedViaOCSP() async throws {
        let checker = try self.checker()
        let status = await checker.check(try self.verified("revoked").revocationTargets, now: self.now)
        #expect(status == .revoked(depth: 0, source: .ocsp, reason: "keyCompromise"))
    }

    @Test("no AIA: the CRL decides, DER or PEM; an unrevoked serial is good")
    func revokedViaCRL() async throws {
        let checker = try self.checker()
        #expect(try await self.leafStatus("crl-revoked", checker) == .revoked(.crl, reason: "keyCompromise"))
        #expect(try await self.leafStatus("crl-pem-revoked", checker) == .revoked(.crl, reason: "keyCompromise"))
        let fetches = checker.fetchCount
        // Same distribution point: the CRL is cached by URL.
        #expect(try await self.leafStatus("crl-good", checker) == .good(.crl))
        #expect(checker.fetchCount == fetches)
    }

    @Test("responder down: unknown (unreachable); with a CRL distribution point the CRL answers instead")
    func responderDown() async throws {
        let checker = try self.checker()
        let down = try await self.leafStatus("down", checker)
        guard case .unknown(let problem) = down else {
            Issue.record("expected unknown, got \(down)")
            return
        }
        #expect(problem.code == .unreachable)
        #expect(try await self.leafStatus("down-then-crl", checker) == .good(.crl))
        let status = await checker.check(try self.verified("down").revocationTargets, now: self.now)
        #expect(status.label == "unknown")
    }

    @Test("http_timeout is honoured against a responder that accepts and never answers")
    func timeout() async throws {
        let checker = try self.checker(timeout: .milliseconds(300))
        let clock = ContinuousClock()
        let start = clock.now
        let status = try await self.leafStatus("slow", checker)
        let elapsed = clock.now - start
        guard case .unknown(let problem) = status else {
            Issue.record("expected unknown, got \(status)")
            return
        }
        #expect(problem.code == .timeout, "\(problem)")
        #expect(elapsed >= .milliseconds(250))
        // Far below any default timeout (Kong's http_timeout is 30 s), with room for a loaded machine.
        #expect(elapsed < .seconds(15), "took \(elapsed)")
    }

    @Test("a cached answer is not fetched again; concurrent checks of one certificate share one fetch")
    func cacheAndCoalescing() async throws {
        let checker = try self.checker()
        let targets = try self.verified("cache").revocationTargets
        #expect(checker.cachedStatus(of: targets, now: self.now) == nil)
        #expect(await checker.check(targets, now: self.now) == .good)
        let fetches = checker.fetchCount
        #expect(await checker.check(targets, now: self.now + 1) == .good)
        #expect(checker.cachedStatus(of: targets, now: self.now + 1) == .good)
        #expect(checker.fetchCount == fetches)
        #expect(self.pki.server.count("/ocsp/cache") == 1)
        // Past the TTL it is asked again.
        #expect(checker.cachedStatus(of: targets, now: self.now + 61) == nil)

        let target = try #require(try self.verified("coalesce").revocationTargets.first)
        let answers = await withTaskGroup(of: CertificateRevocation.self) { group in
            for _ in 0..<8 { group.addTask { await checker.status(of: target, now: self.now) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.count == 8)
        #expect(answers.allSatisfy { $0 == .good(.ocsp) })
        #expect(self.pki.server.count("/ocsp/coalesce") == 1)
    }

    @Test("a tampered or untrusted OCSP response is unknown, never good")
    func badResponses() async throws {
        let checker = try self.checker()
        for name in ["tampered", "rogue"] {
            let status = try await self.leafStatus(name, checker)
            guard case .unknown(let problem) = status else {
                Issue.record("\(name): expected unknown, got \(status)")
                continue
            }
            #expect(problem.code == .badSignature, "\(name): \(problem)")
        }
    }

    @Test("an oversized CRL, a 404 and a certificate without revocation information are unknown, with the reason")
    func limitsAndMissingInformation() async throws {
        let checker = try self.checker()
        let large = try await self.leafStatus("too-large", checker)
        guard case .unknown(let problem) = large else {
            Issue.record("expected unknown, got \(large)")
            return
        }
        #expect(problem.code == .tooLarge, "\(problem)")
        let none = try await self.leafStatus("no-info", checker)
        guard case .unknown(let missing) = none else {
            Issue.record("expected unknown, got \(none)")
            return
        }
        #expect(missing.code == .noResponder)
        let notFound = try await self.leafStatus("http-404", checker)
        guard case .unknown(let status) = notFound else {
            Issue.record("expected unknown, got \(notFound)")
            return
        }
        #expect(status.code == .httpStatus, "\(status)")
        #expect(status.message.contains("HTTP 404"), "\(status)")
    }

    @Test("allow_partial_chain: the intermediate is the anchor, only the leaf is checked, the responder still verifies")
    func partialChain() async throws {
        let store = try TrustStore(pems: [self.pki.intermediate.pem])
        let leaf = try self.pki.leaf("partial")
        let verdict = ChainVerifier(trustStore: store, options: .init(allowPartialChain: true))
            .verify(PresentedChain(leaf: leaf.der), at: self.now)
        guard case .trusted(let verified) = verdict else {
            Issue.record("expected trusted, got \(verdict)")
            return
        }
        #expect(verified.revocationTargets.count == 1)
        let checker = try #require(RevocationChecker(trustStore: store, allowPartialChain: true))
        #expect(await checker.check(verified.revocationTargets, now: self.now) == .good)
        #expect(self.pki.server.count("/ocsp/partial") == 1)
    }

    @Test("revocation_check_mode semantics: revoked always refused, unknown only with STRICT")
    func modes() {
        let revoked = RevocationStatus.revoked(depth: 0, source: .ocsp, reason: "keyCompromise")
        let unknown = RevocationStatus.unknown(depth: 0, problem: RevocationProblem(.timeout, "slow"))
        #expect(RevocationCheckMode.ignoreCAError.refusal(for: revoked) == "revoked")
        #expect(RevocationCheckMode.strict.refusal(for: revoked) == "revoked")
        #expect(RevocationCheckMode.ignoreCAError.refusal(for: unknown) == nil)
        #expect(RevocationCheckMode.strict.refusal(for: unknown) == "verify_failed:revocation_unavailable")
        #expect(RevocationCheckMode.strict.refusal(for: .good) == nil)
        #expect(RevocationStatus.combine([.good(.ocsp), .unknown(RevocationProblem(.timeout, "")),
                                          .revoked(.crl, reason: "superseded")])
            == .revoked(depth: 2, source: .crl, reason: "superseded"))
    }
}
