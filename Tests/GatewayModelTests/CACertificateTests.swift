import Foundation
import GatewayModel
import Testing
import TestSupport

@Suite("ca_certificates")
struct CACertificateTests {
    /// "Now" for certificates minted at test time (the wall clock: they are valid from the moment they are made).
    static var wallClock: Int64 { Int64(Date().timeIntervalSince1970) }

    func context(now: Int64 = Self.wallClock) -> ValidationContext { Fixture.context(now: now) }

    @Test func acceptsACAAndComputesItsDigest() throws {
        let pki = try TestPKI.load()
        let e = try Fixture.valid(.caCertificates, ["cert": .string(pki.ca), "tags": ["pki"]], context: self.context())
        #expect(e["cert"] == .string(pki.ca))
        #expect(e["cert_digest"] == .string(pki.caDigest))
        #expect(e["tags"] == ["pki"])
        #expect(UUIDString.isValid(e["id"]?.stringValue ?? ""))
        #expect(Set(e.keys) == ["id", "created_at", "updated_at", "cert", "cert_digest", "tags"])
    }

    @Test func clientSuppliedDigestIsIgnored() throws {
        let pki = try TestPKI.load()
        let e = try Fixture.valid(.caCertificates, ["cert": .string(pki.ca), "cert_digest": "deadbeef"],
                                  context: self.context())
        #expect(e["cert_digest"] == .string(pki.caDigest))
    }

    @Test func certificateFacts() throws {
        let pki = try TestPKI.load()
        let ca = try CertificateFacts.parse(pem: pki.ca)
        #expect(ca.isCA)
        #expect(ca.digest == pki.caDigest)
        #expect(ca.subject.contains("CN=Test Root CA"))
        #expect(ca.subject.contains("O=Portcullis Tests"))
        #expect(ca.notAfter - ca.notBefore == 3650 * 86400)
        #expect(abs(ca.notBefore - Self.wallClock) < 3600)

        let short = try CertificateFacts.parse(pem: pki.shortCA)
        #expect(short.isCA)
        #expect(short.notAfter - short.notBefore == 86400)

        #expect(try !CertificateFacts.parse(pem: pki.leaf).isCA)
        #expect(try !CertificateFacts.parse(pem: pki.bare).isCA)
        #expect(try CertificateFacts.parse(pem: pki.otherCA).digest != ca.digest)
        // Surrounding text (as in `openssl x509 -text` output) does not matter.
        #expect(try CertificateFacts.parse(pem: "subject=whatever\n" + pki.ca + "\ntrailer\n").digest == ca.digest)
    }

    @Test func expired() throws {
        let pki = try TestPKI.load()
        let facts = try CertificateFacts.parse(pem: pki.shortCA)
        // Valid on its last second, expired one second later.
        _ = try Fixture.valid(.caCertificates, ["cert": .string(pki.shortCA)], context: self.context(now: facts.notAfter))
        let e = try Fixture.invalid(.caCertificates, ["cert": .string(pki.shortCA)],
                                    context: self.context(now: facts.notAfter + 1))
        #expect(e.message == #"schema violation (cert: certificate expired, "Not After" time is in the past)"#)
        #expect(e.fieldsJSON == ["cert": #"certificate expired, "Not After" time is in the past"#])
        // Thirty days on, even the ten-year CA is fine but the one-day CA is not.
        let later = self.context(now: Self.wallClock + 30 * 86400)
        _ = try Fixture.valid(.caCertificates, ["cert": .string(pki.ca)], context: later)
        #expect(try Fixture.invalid(.caCertificates, ["cert": .string(pki.shortCA)], context: later).messageAt("cert")
            == #"certificate expired, "Not After" time is in the past"#)
    }

    @Test func notACA() throws {
        let pki = try TestPKI.load()
        let message = #"certificate does not appear to be a CA because it is missing the "CA" basic constraint"#
        for pem in [pki.leaf, pki.bare] {
            let e = try Fixture.invalid(.caCertificates, ["cert": .string(pem)], context: self.context())
            #expect(e.message == "schema violation (cert: \(message))")
        }
    }

    @Test func onlyOneCertificateAtATime() throws {
        let pki = try TestPKI.load()
        for pem in [pki.ca + pki.otherCA, pki.ca + "\n" + pki.leaf, pki.ca + pki.ca] {
            #expect(throws: CertificateFacts.Problem.self) { try CertificateFacts.parse(pem: pem) }
            let e = try Fixture.invalid(.caCertificates, ["cert": .string(pem)], context: self.context())
            #expect(e.message == "schema violation (cert: please submit only one certificate at a time)")
        }
    }

    @Test func garbage() throws {
        let noPEM = try Fixture.invalid(.caCertificates, ["cert": "hello"], context: self.context())
        #expect(noPEM.message == "schema violation (cert: invalid certificate: no PEM certificate found)")

        let badBody = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
        let e = try Fixture.invalid(.caCertificates, ["cert": .string(badBody)], context: self.context())
        let message = try #require(e.messageAt("cert"))
        #expect(message.hasPrefix("invalid certificate: "))
        #expect(e.lines.count == 1)

        let pki = try TestPKI.load()
        let truncated = String(pki.ca.prefix(pki.ca.count / 2))
        #expect(try Fixture.invalid(.caCertificates, ["cert": .string(truncated)], context: self.context())
            .messageAt("cert")?.hasPrefix("invalid certificate: ") == true)

        let key = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"
        #expect(try Fixture.invalid(.caCertificates, ["cert": .string(key)], context: self.context()).messageAt("cert")
            == "invalid certificate: no PEM certificate found")
    }

    @Test func certIsRequired() throws {
        let e = try Fixture.invalid(.caCertificates, [:], context: self.context())
        #expect(e.message == "schema violation (cert: required field missing)")
        let wrongType = try Fixture.invalid(.caCertificates, ["cert": 1], context: self.context())
        #expect(wrongType.message == "schema violation (cert: expected a string)")
    }

    @Test func digestIsUnique() {
        #expect(EntitySchema.caCertificates.uniqueFields == ["cert_digest"])
        #expect(UniquenessCheck.uniqueKeys(.caCertificates, ["cert_digest": "abc"]) == [["cert_digest": "abc"]])
    }

    @Test func exampleCAIsValidUntil2126() throws {
        let doc = try DeclarativeLoader.parseText(try Repo.text("examples/alb-mtls.yaml"))
        let pem = try #require(doc["ca_certificates"]?.arrayValue?.first?["cert"]?.stringValue)
        let facts = try CertificateFacts.parse(pem: pem)
        #expect(facts.isCA)
        #expect(facts.notAfter > 4_900_000_000)  // 2125-04-11
        #expect(facts.subject.contains("Portcullis Example Client CA"))
    }
}
