import Testing

@testable import CertAuth
import TestSupport

struct CertificateIdentityTests {
    let pki: CertAuthPKI
    let verifier: ChainVerifier
    init() throws {
        self.pki = try CertAuthPKI.load()
        self.verifier = ChainVerifier(trustStore: try TrustStore(pems: [self.pki.root.pem]))
    }

    func identity(_ cert: CertAuthPKI.Cert) -> CertificateIdentity? {
        let chain = PresentedChain(leaf: cert.der, intermediates: [self.pki.intermediate.der])
        if case .trusted(let v) = self.verifier.verify(chain, at: self.pki.now) { return v.identity }
        return nil
    }

    @Test func namesInKongOrder() throws {
        let id = try #require(self.identity(self.pki.leaf))
        #expect(id.subjectAltNames == [
            .dns("client.example.com"), .uri("spiffe://example.org/ns/prod/sa/api"), .email("ops@example.com"),
            .ip("192.0.2.7"), .ip("2001:db8::7"),
        ])
        #expect(id.commonName == "kongclient")
        #expect(id.names == ["client.example.com", "spiffe://example.org/ns/prod/sa/api", "ops@example.com",
                             "192.0.2.7", "2001:db8::7", "kongclient"])
        #expect(id.spiffeID == "spiffe://example.org/ns/prod/sa/api")
        #expect(id.sanHeaderValue == id.names.joined(separator: ","))
    }

    @Test func kongDNFormat() throws {
        let id = try #require(self.identity(self.pki.leaf))
        // The exact string Kong's header-cert-auth spec expects for this subject.
        #expect(id.subjectDN == "C=US/CN=kongclient/L=SF/O=KONG/OU=ENG/ST=CA")
        #expect(id.subjectAttributes.map { $0.type } == ["C", "ST", "L", "O", "OU", "CN"])
        // Kong keeps one value per attribute type, the last one.
        let cnOnly = try #require(self.identity(self.pki.cnOnly))
        #expect(cnOnly.subjectDN == "CN=cn-only.example/O=Acme/OU=second")
        #expect(cnOnly.names == ["cn-only.example"])
        #expect(cnOnly.spiffeID == nil)
        #expect(CertificateIdentity.kongDistinguishedName([("emailAddress", "a@b"), ("CN", "x"), ("C", "US")])
            == "C=US/CN=x/emailAddress=a@b")
    }

    @Test func serialValidityAndDigest() throws {
        let id = try #require(self.identity(self.pki.leaf))
        #expect(id.serialNumber == self.pki.leaf.serial)
        #expect(id.notAfter == self.pki.leaf.notAfter)
        #expect(id.notBefore == self.pki.leaf.notBefore)
        #expect(id.sha256 == self.pki.leaf.sha256)
    }

    @Test func ipText() {
        #expect(SubjectAltName.ipText([10, 0, 0, 1]) == "10.0.0.1")
        #expect(SubjectAltName.ipText([UInt8](repeating: 0, count: 16)) == "::")
        #expect(SubjectAltName.ipText([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]) == "::1")
        #expect(SubjectAltName.ipText([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1])
            == "2001:db8:0:1::1")
        #expect(SubjectAltName.ipText([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1])
            == "2001:db8:1:0:1:1:1:1")  // a single zero group is not compressed
        #expect(SubjectAltName.ipText([1, 2, 3]) == nil)
    }

    @Test func civilDays() {
        #expect(OpenSSLValues.daysFromCivil(year: 1970, month: 1, day: 1) == 0)
        #expect(OpenSSLValues.daysFromCivil(year: 2000, month: 3, day: 1) == 11_017)
        #expect(OpenSSLValues.daysFromCivil(year: 2050, month: 1, day: 1) == 29_220)
    }
}
