import Testing

@testable import CertAuth
import TestSupport

struct ChainVerifierTests {
    let pki: CertAuthPKI
    let rootStore: TrustStore
    init() throws {
        self.pki = try CertAuthPKI.load()
        self.rootStore = try TrustStore(caCertificates: [(id: "root-id", pem: self.pki.root.pem)])
    }

    func verify(_ leaf: CertAuthPKI.Cert, with intermediates: [CertAuthPKI.Cert]? = nil, store: TrustStore? = nil,
                partial: Bool = false, at time: Int64? = nil) -> Verdict {
        let verifier = ChainVerifier(trustStore: store ?? self.rootStore,
                                     options: .init(allowPartialChain: partial))
        let chain = PresentedChain(leaf: leaf.der, intermediates: (intermediates ?? [self.pki.intermediate]).map(\.der))
        return verifier.verify(chain, at: time ?? self.pki.now)
    }

    func reason(_ verdict: Verdict) -> String? {
        if case .rejected(let f) = verdict { return f.reason.label }
        return nil
    }

    @Test func validChainIsTrustedAndMapsToTheRootCA() throws {
        guard case .trusted(let v) = self.verify(self.pki.leaf) else {
            Issue.record("expected trusted, got \(self.verify(self.pki.leaf))")
            return
        }
        #expect(v.issuer.id == "root-id")
        #expect(v.issuer.digest == self.pki.root.sha256)
        #expect(v.chainLength == 3)
        #expect(v.chainNotAfter == self.pki.leaf.notAfter)
        #expect(v.revocation == .notChecked)
        #expect(v.verifiedAt == self.pki.now)
    }

    @Test func missingIntermediateIsUnknownCA() {
        let verdict = self.verify(self.pki.leaf, with: [])
        #expect(self.reason(verdict) == "unknown_ca")
        if case .rejected(let f) = verdict {
            #expect(f.metricLabel == "verify_failed:unknown_ca")
            #expect(f.message == "unable to get local issuer certificate")
            #expect(f.openSSLError == 20)
        }
    }

    @Test func partialChainOnlyWithTheFlag() throws {
        let intStore = try TrustStore(caCertificates: [(id: "int-id", pem: self.pki.intermediate.pem)])
        #expect(self.reason(self.verify(self.pki.leaf, with: [], store: intStore)) == "unknown_ca")
        #expect(self.reason(self.verify(self.pki.leaf, store: intStore)) == "unknown_ca")
        guard case .trusted(let v) = self.verify(self.pki.leaf, with: [], store: intStore, partial: true) else {
            Issue.record("partial chain should verify")
            return
        }
        #expect(v.issuer.id == "int-id")
        #expect(v.issuer.digest == self.pki.intermediate.sha256)
        #expect(v.chainLength == 2)
        // With the root in the store too, a full path is still found.
        let both = try TrustStore(pems: [self.pki.intermediate.pem, self.pki.root.pem])
        #expect(self.reason(self.verify(self.pki.leaf, store: both, partial: true)) == nil)
    }

    @Test func validityAtTheInjectedTime() throws {
        #expect(self.reason(self.verify(self.pki.expired)) == "expired")
        let future = self.verify(self.pki.future)
        #expect(self.reason(future) == "not_yet_valid")
        #expect(future.validUntil == self.pki.future.notBefore)
        // The valid leaf at other times.
        let d = CertAuthPKI.day
        // OpenSSL's window is notBefore <= t < notAfter (X509_cmp_time counts "equal" as "before").
        #expect(self.reason(self.verify(self.pki.leaf, at: self.pki.leaf.notAfter)) == "expired")
        #expect(self.reason(self.verify(self.pki.leaf, at: self.pki.leaf.notAfter - 1)) == nil)
        #expect(self.reason(self.verify(self.pki.leaf, at: self.pki.leaf.notBefore)) == nil)
        #expect(self.reason(self.verify(self.pki.leaf, at: self.pki.leaf.notBefore - 1)) == "not_yet_valid")
        #expect(self.reason(self.verify(self.pki.future, at: self.pki.now + 2 * d)) == nil)
        // The CAs start at now−2d.
        #expect(self.reason(self.verify(self.pki.expired, at: self.pki.now - d - 3600)) == nil)
    }

    @Test func untrustedAndTampered() {
        #expect(self.reason(self.verify(self.pki.otherLeaf, with: [])) == "unknown_ca")
        #expect(self.reason(self.verify(self.pki.otherLeaf, with: [self.pki.otherRoot])) == "unknown_ca")
        // The root itself presented as the client certificate: trusted path, but a CA is no client (OpenSSL
        // already refuses its keyUsage for TLS clients; our leaf check would catch it otherwise).
        #expect(["purpose", "leaf_is_ca"].contains(self.reason(self.verify(self.pki.root, with: []))))
        // Flip one bit in the signature value (the last byte of the DER).
        var tampered = self.pki.leaf
        tampered.der[tampered.der.count - 1] ^= 0x01
        #expect(self.reason(self.verify(tampered)) == "bad_signature")
        var garbage = self.pki.leaf
        garbage.der = [0x30, 0x03, 0x02, 0x01, 0x01]
        #expect(self.reason(self.verify(garbage)) == "malformed")
        var badIntermediate = self.pki.intermediate
        badIntermediate.der = Array(badIntermediate.der.dropLast())
        #expect(self.reason(self.verify(self.pki.leaf, with: [badIntermediate])) == "malformed")
    }

    @Test func purposeAndLeafPolicy() {
        #expect(self.reason(self.verify(self.pki.serverOnly)) == "purpose")
        #expect(self.reason(self.verify(self.pki.anyEKU)) == "purpose")
        #expect(self.reason(self.verify(self.pki.emptyEKU)) == "purpose")
        #expect(self.reason(self.verify(self.pki.leafIsCA)) == "leaf_is_ca")
        #expect(self.reason(self.verify(self.pki.noEKU)) == nil)
        #expect(self.reason(self.verify(self.pki.cnOnly)) == nil)
        #expect(self.reason(self.verify(self.pki.weakRSA)) == "weak_key")
        // OpenSSL accepts a NUL inside a dNSName; Kong would read it as a C string ("evil"). We refuse it.
        #expect(self.reason(self.verify(self.pki.nulSAN)) == "invalid_name")
        let lax = ChainVerifier(trustStore: self.rootStore, options: .init(securityLevel: 0))
        let weak = PresentedChain(leaf: self.pki.weakRSA.der, intermediates: [self.pki.intermediate.der])
        #expect(self.reason(lax.verify(weak, at: self.pki.now)) == nil)
    }

    @Test func depthLimit() {
        let verifier = ChainVerifier(trustStore: self.rootStore, options: .init(maxIntermediates: 0))
        let chain = PresentedChain(leaf: self.pki.leaf.der, intermediates: [self.pki.intermediate.der])
        #expect(self.reason(verifier.verify(chain, at: self.pki.now)) == "chain_too_long")
    }

    @Test func trustStoreIdentityAndValidation() throws {
        let a = try TrustStore(pems: [self.pki.root.pem, self.pki.otherRoot.pem])
        let b = try TrustStore(pems: [self.pki.otherRoot.pem, self.pki.root.pem, self.pki.root.pem])
        let c = try TrustStore(pems: [self.pki.root.pem])
        #expect(a.identity == b.identity)
        #expect(a.identity != c.identity)
        #expect(c.identity != self.rootStore.identity)  // ids are part of the identity
        #expect(a.anchors.map(\.digest) == [self.pki.root.sha256, self.pki.otherRoot.sha256])
        #expect(throws: TrustStore.Failure.self) { try TrustStore(pems: []) }
        #expect(throws: TrustStore.Failure.self) { try TrustStore(pems: ["garbage"]) }
        #expect(throws: TrustStore.Failure.self) { try TrustStore(pems: [self.pki.leaf.pem]) }  // not a CA
        #expect(throws: TrustStore.Failure.self) { try TrustStore(pems: [self.pki.root.pem + self.pki.otherRoot.pem]) }
        let v1 = ChainVerifier(trustStore: a)
        let v2 = ChainVerifier(trustStore: a, options: .init(allowPartialChain: true))
        #expect(v1.identity != v2.identity)
    }

    @Test func intermediatesOfVerifiedPathsAreParsedOnce() async {
        let verifier = ChainVerifier(trustStore: self.rootStore)
        let now = self.pki.now
        let cache = verifier.intermediateCache
        // Not admitted: what a path that fails verification carries, and presented certificates a path skips.
        let unrelated = PresentedChain(leaf: self.pki.otherLeaf.der,
                                       intermediates: [self.pki.intermediate.der, self.pki.otherRoot.der])
        #expect(self.reason(verifier.verify(unrelated, at: now)) == "unknown_ca")
        #expect(cache.count == 0)
        let padded = PresentedChain(leaf: self.pki.leaf.der,
                                    intermediates: [self.pki.otherRoot.der, self.pki.intermediate.der])
        #expect(self.reason(verifier.verify(padded, at: now)) == nil)
        #expect(cache.count == 1)
        #expect(cache.lookup(self.pki.intermediate.der) != nil)
        #expect(cache.lookup(self.pki.otherRoot.der) == nil)

        // With the intermediate taken from the cache, every outcome equals a fresh parse's (`self.verify` builds
        // a new verifier per call).
        var tampered = self.pki.leaf
        tampered.der[tampered.der.count - 1] ^= 0x01
        for leaf in [self.pki.leaf, self.pki.expired, self.pki.future, self.pki.serverOnly, self.pki.leafIsCA,
                     self.pki.cnOnly, self.pki.nulSAN, self.pki.weakRSA, tampered] {
            let chain = PresentedChain(leaf: leaf.der, intermediates: [self.pki.intermediate.der])
            #expect(verifier.verify(chain, at: now) == self.verify(leaf))
        }
        // A modified intermediate is other bytes: parsed on its own, and refused.
        var badIntermediate = self.pki.intermediate
        badIntermediate.der[badIntermediate.der.count - 1] ^= 0x01
        let forged = PresentedChain(leaf: self.pki.leaf.der, intermediates: [badIntermediate.der])
        #expect(self.reason(verifier.verify(forged, at: now)) == "bad_signature")
        #expect(cache.count == 1)

        // The cached certificate is shared by concurrent verifications.
        let chain = PresentedChain(leaf: self.pki.leaf.der, intermediates: [self.pki.intermediate.der])
        await withTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var trusted = 0
                    for _ in 0..<25 {
                        if case .trusted = verifier.verify(chain, at: now) { trusted += 1 }
                    }
                    return trusted
                }
            }
            for await trusted in group { #expect(trusted == 25) }
        }
        #expect(cache.count == 1)
    }

    @Test func intermediateCacheIsBounded() throws {
        let cache = IntermediateCache(capacity: 2)
        for cert in [self.pki.root, self.pki.intermediate, self.pki.otherRoot] {
            let parsed = try #require(X509Certificate(der: cert.der))
            cache.insert(parsed, der: cert.der)
            cache.insert(parsed, der: cert.der)  // again: no second entry
        }
        #expect(cache.count == 2)
        #expect(cache.lookup(self.pki.otherRoot.der) != nil)  // the newest is kept
    }

    @Test func manyVerificationsDoNotLeak() throws {
        // A smoke test for ownership: RSS must not grow with repeated verifications of every outcome.
        let chain = PresentedChain(leaf: self.pki.leaf.der, intermediates: [self.pki.intermediate.der])
        let bad = PresentedChain(leaf: self.pki.otherLeaf.der)
        let verifier = ChainVerifier(trustStore: self.rootStore)
        func rss() -> Int { ResidentMemory.kilobytes() }
        for _ in 0..<200 { _ = verifier.verify(chain, at: self.pki.now) }
        // Other suites run in this process at the same time and move RSS too: a leak grows it in every batch,
        // so the smallest growth of five batches is what is checked.
        var growths: [Int] = []
        for _ in 0..<5 {
            let before = rss()
            for _ in 0..<1000 {
                _ = verifier.verify(chain, at: self.pki.now)
                _ = verifier.verify(bad, at: self.pki.now)
            }
            growths.append(rss() - before)
        }
        // ~4 KiB per leaked chain would be ~8 MB per batch.
        let grown = growths.min() ?? 0
        #expect(grown < 2_000, "RSS grew by \(growths) KiB per batch")
    }
}
