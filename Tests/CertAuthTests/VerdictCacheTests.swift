import Testing

@testable import CertAuth
import TestSupport

struct VerdictCacheTests {
    let pki: CertAuthPKI
    let store: TrustStore
    init() throws {
        self.pki = try CertAuthPKI.load()
        self.store = try TrustStore(pems: [self.pki.root.pem])
    }

    func key(_ n: Int) throws -> VerdictCacheKey {
        try #require(VerdictCacheKey(verifier: [1, 2, 3], format: .urlEncoded, header: "header-\(n)"))
    }

    let rejected = Verdict.rejected(VerificationFailure(.unknownCA, "test"))

    @Test func keysSeparateFormatsVerifiersAndChains() {
        let a = VerdictCacheKey(verifier: [1], format: .urlEncoded, header: "x")
        #expect(a == VerdictCacheKey(verifier: [1], format: .urlEncoded, header: "x"))
        #expect(a != VerdictCacheKey(verifier: [2], format: .urlEncoded, header: "x"))
        #expect(a != VerdictCacheKey(verifier: [1], format: .base64Encoded, header: "x"))
        #expect(a != VerdictCacheKey(verifier: [1], format: .urlEncoded, header: "y"))
        #expect(a != VerdictCacheKey(verifier: [1], format: .urlEncoded, header: "x", chain: ""))
    }

    @Test func hitAndTTLExpiry() throws {
        let keys = try (0...100).map { try self.key($0) }
        let cache = VerdictCache(capacity: 8, ttl: 60)
        cache.insert(self.rejected, for: keys[1], now: 1000)
        #expect(cache.lookup(keys[1], now: 1000) == self.rejected)
        #expect(cache.lookup(keys[1], now: 1059) == self.rejected)
        #expect(cache.lookup(keys[1], now: 1060) == nil)
        #expect(cache.count == 0)  // the expired entry was dropped on lookup
        #expect(cache.lookup(keys[2], now: 1000) == nil)
    }

    @Test func trustedVerdictsExpireAtNotAfter() throws {
        let keys = try (0...100).map { try self.key($0) }
        let verifier = ChainVerifier(trustStore: self.store)
        let chain = PresentedChain(leaf: self.pki.leaf.der, intermediates: [self.pki.intermediate.der])
        let notAfter = self.pki.leaf.notAfter
        let verdict = verifier.verify(chain, at: notAfter - 10)
        guard case .trusted = verdict else {
            Issue.record("expected trusted")
            return
        }
        let cache = VerdictCache(capacity: 8, ttl: 3600)
        cache.insert(verdict, for: keys[1], now: notAfter - 10)
        #expect(cache.lookup(keys[1], now: notAfter - 1) == verdict)
        #expect(cache.lookup(keys[1], now: notAfter) == nil)
        // A not-yet-valid rejection lasts only until notBefore, however long the TTL.
        let future = PresentedChain(leaf: self.pki.future.der, intermediates: [self.pki.intermediate.der])
        let early = verifier.verify(future, at: self.pki.now)
        let longCache = VerdictCache(capacity: 8, ttl: 10 * CertAuthPKI.day)
        longCache.insert(early, for: keys[2], now: self.pki.now)
        #expect(longCache.lookup(keys[2], now: self.pki.future.notBefore - 1) == early)
        #expect(longCache.lookup(keys[2], now: self.pki.future.notBefore) == nil)
        // ... and a verdict that is already stale is not stored.
        cache.insert(verdict, for: keys[3], now: notAfter)
        #expect(cache.count == 0)
    }

    @Test func boundedWithSecondChance() throws {
        let keys = try (0...100).map { try self.key($0) }
        let cache = VerdictCache(capacity: 4, ttl: 60)
        for i in 1...4 { cache.insert(self.rejected, for: keys[i], now: 0) }
        #expect(cache.count == 4)
        #expect(cache.lookup(keys[1], now: 0) != nil)  // referenced: survives the next sweep
        cache.insert(self.rejected, for: keys[5], now: 0)
        #expect(cache.count == 4)
        #expect(cache.lookup(keys[1], now: 0) != nil)
        #expect(cache.lookup(keys[2], now: 0) == nil)
        for i in 6...100 { cache.insert(self.rejected, for: keys[i], now: 0) }
        #expect(cache.count == 4)
        #expect(cache.lookup(keys[100], now: 0) != nil)
        cache.removeAll()
        #expect(cache.count == 0)
        #expect(cache.lookup(keys[100], now: 0) == nil)
        cache.insert(self.rejected, for: keys[1], now: 0)
        #expect(cache.count == 1)
    }

    @Test func authenticatorUsesTheCache() throws {
        let verifier = ChainVerifier(trustStore: self.store)
        let cache = VerdictCache(capacity: 16, ttl: 60)
        let auth = HeaderCertificateAuthenticator(decoder: HeaderDecoder(format: .urlEncoded), verifier: verifier,
                                                  cache: cache)
        let header = Encode.alb(self.pki.leaf.pem + self.pki.intermediate.pem)
        let first = auth.authenticate(header: header, now: self.pki.now)
        guard case .verdict(.trusted(let v), cached: false) = first else {
            Issue.record("expected a fresh trusted verdict, got \(first)")
            return
        }
        #expect(first.metricLabel == "ok")
        let second = auth.authenticate(header: header, now: self.pki.now + 1)
        #expect(second == .verdict(.trusted(v), cached: true))
        // Rejections are cached too; undecodable headers are not.
        let other = Encode.alb(self.pki.otherLeaf.pem)
        #expect(auth.authenticate(header: other, now: self.pki.now).metricLabel == "verify_failed:unknown_ca")
        guard case .verdict(_, cached: true) = auth.authenticate(header: other, now: self.pki.now) else {
            Issue.record("expected a cached rejection")
            return
        }
        #expect(auth.authenticate(header: "garbage", now: self.pki.now).metricLabel == "decode_failed:malformed")
        #expect(cache.count == 2)
        // A new snapshot: everything is verified again.
        cache.removeAll()
        guard case .verdict(.trusted, cached: false) = auth.authenticate(header: header, now: self.pki.now) else {
            Issue.record("expected a fresh verdict after removeAll")
            return
        }
    }

    @Test func otherFormatsThroughTheAuthenticator() throws {
        let verifier = ChainVerifier(trustStore: self.store)
        let cache = VerdictCache(capacity: 16, ttl: 60)
        let rfc = HeaderCertificateAuthenticator(decoder: HeaderDecoder(format: .rfc9440), verifier: verifier,
                                                 cache: cache)
        let leaf = ":\(Encode.base64(self.pki.leaf.der)):"
        let chain = ":\(Encode.base64(self.pki.intermediate.der)):"
        #expect(rfc.authenticate(header: leaf, now: self.pki.now).metricLabel == "verify_failed:unknown_ca")
        #expect(rfc.authenticate(header: leaf, chain: chain, now: self.pki.now) == .verdict(
            verifier.verify(PresentedChain(leaf: self.pki.leaf.der, intermediates: [self.pki.intermediate.der]),
                            at: self.pki.now), cached: false))
        guard case .verdict(.trusted, cached: true) = rfc.authenticate(header: leaf, chain: chain, now: self.pki.now)
        else {
            Issue.record("expected a cached trusted verdict")
            return
        }
        let xfcc = HeaderCertificateAuthenticator(decoder: HeaderDecoder(format: .xfcc), verifier: verifier,
                                                  cache: cache)
        let pem = Encode.full(self.pki.leaf.pem + self.pki.intermediate.pem)
        let header = "By=spiffe://example.org/gw;Chain=\"\(pem)\""
        let outcome = xfcc.authenticate(header: header, now: self.pki.now)
        guard case .verdict(.trusted(let v), cached: false) = outcome else {
            Issue.record("expected a trusted XFCC chain")
            return
        }
        #expect(v.identity.spiffeID == "spiffe://example.org/ns/prod/sa/api")
    }

    @Test func aHitCostsFarLessThanAVerification() throws {
        let verifier = ChainVerifier(trustStore: self.store)
        let auth = HeaderCertificateAuthenticator(decoder: HeaderDecoder(format: .urlEncoded), verifier: verifier,
                                                  cache: VerdictCache(capacity: 16, ttl: 60))
        let header = Encode.alb(self.pki.leaf.pem + self.pki.intermediate.pem)
        let clock = ContinuousClock()
        let n = 200
        let miss = clock.measure {
            for i in 0..<n {
                auth.cache.removeAll()
                _ = auth.authenticate(header: header, now: self.pki.now + Int64(i))
            }
        }
        let hit = clock.measure {
            for i in 0..<n { _ = auth.authenticate(header: header, now: self.pki.now + Int64(i)) }
        }
        print("CertAuth cache: miss \(miss / n) per request, hit \(hit / n) per request (debug build)")
        #expect(hit * 5 < miss)
    }

    @Test func concurrentUse() async throws {
        let verifier = ChainVerifier(trustStore: self.store)
        let auth = HeaderCertificateAuthenticator(decoder: HeaderDecoder(format: .urlEncoded), verifier: verifier,
                                                  cache: VerdictCache(capacity: 8, ttl: 60))
        let headers = [self.pki.leaf, self.pki.otherLeaf, self.pki.expired, self.pki.noEKU].map {
            Encode.alb($0.pem + self.pki.intermediate.pem)
        } + (0..<12).map { "garbage-\($0)" }
        let now = self.pki.now
        let labels = await withTaskGroup(of: [String].self) { group in
            for t in 0..<4 {
                group.addTask {
                    (0..<200).map { i in
                        auth.authenticate(header: headers[(i + t) % headers.count], now: now).metricLabel
                    }
                }
            }
            var all: [String] = []
            for await l in group { all += l }
            return all
        }
        #expect(labels.count == 800)
        #expect(Set(labels) == ["ok", "verify_failed:unknown_ca", "verify_failed:expired", "decode_failed:malformed"])
    }
}
