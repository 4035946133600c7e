import Foundation
import GatewayModel
import Testing
import TestSupport

/// `portcullis verify` as an SRE runs it: the built binary, CA files on disk, the loopback OCSP responder and CRLs
/// of ``RevocationPKI``.
struct VerifyCommandTests {
    let pki: RevocationPKI
    let dir: TempDir
    let ca: String

    init() async throws {
        self.pki = try await RevocationPKI.load()
        self.dir = try TempDir()
        self.ca = try self.dir.write("root.pem", self.pki.root.pem)
    }

    func verify(_ arguments: [String]) async throws -> Subprocess.Result {
        try await Subprocess.run(try Paths.binary(), ["verify"] + arguments, timeout: .seconds(30))
    }

    /// The leaf and the intermediate as ALB sends them.
    func alb(_ name: String) throws -> String { Encode.alb(try self.pki.leaf(name).pem + self.pki.intermediate.pem) }

    @Test("a good certificate: identity, revocation good, ACCEPTED, exit 0 (value given inline, starting with dashes)")
    func accepted() async throws {
        let result = try await self.verify(["--ca", self.ca, "--header-format", "url_encoded",
                                            "--header-value", try self.alb("cli-good")])
        #expect(result.status == 0 && result.exitedNormally, "\(result)")
        let text = result.stdout
        #expect(text.contains("CN=cli-good.revocation.test/O=Portcullis Tests"), "\(text)")
        #expect(text.contains("Revocation Issuing CA"))
        #expect(text.contains("revocation          good"), "\(text)")
        #expect(text.contains("ACCEPTED"))
    }

    @Test("revoked (OCSP) and, with STRICT, unknown revocation: refused, exit 1, outcome in the JSON")
    func refused() async throws {
        let header = try self.dir.write("revoked.txt", try self.alb("cli-revoked") + "\n")
        let revoked = try await self.verify(["--ca", self.ca, "--header-format", "url_encoded",
                                             "--header-file", header, "--json"])
        #expect(revoked.status == 1, "\(revoked)")
        let json = try JSONParser.parse(revoked.stdout)
        #expect(json["verdict"]?.stringValue == "refused")
        #expect(json["outcome"]?.stringValue == "revoked")
        #expect(json["revocation"]?.stringValue == "revoked")
        #expect(json["certificate"]?["common_name"]?.stringValue == "cli-revoked.revocation.test")

        let noInfo = try self.alb("no-info")
        let strict = try await self.verify(["--ca", self.ca, "--header-format", "url_encoded",
                                            "--header-value", noInfo, "--revocation", "STRICT"])
        #expect(strict.status == 1, "\(strict)")
        #expect(strict.stdout.contains("verify_failed:revocation_unavailable"), "\(strict.stdout)")
        let ignore = try await self.verify(["--ca", self.ca, "--header-format", "url_encoded",
                                            "--header-value", noInfo])
        #expect(ignore.status == 0, "\(ignore)")
        let skip = try await self.verify(["--ca", self.ca, "--header-format", "url_encoded",
                                          "--header-value", try self.alb("cli-revoked"), "--revocation", "SKIP"])
        #expect(skip.status == 0, "\(skip)")
        #expect(skip.stdout.contains("not checked (SKIP)"), "\(skip.stdout)")
    }

    @Test("--at outside the validity: refused as expired; garbage: refused as undecodable")
    func verificationFailures() async throws {
        let expired = try await self.verify(["--ca", self.ca, "--header-format", "url_encoded", "--header-value",
                                             try self.alb("cli-good"), "--at", "2099-01-01T00:00:00Z"])
        #expect(expired.status == 1, "\(expired)")
        #expect(expired.stdout.contains("verify_failed:expired"), "\(expired.stdout)")
        let garbage = try await self.verify(["--ca", self.ca, "--header-format", "base64_encoded",
                                             "--header-value", "12345invalidcert67890"])
        #expect(garbage.status == 1, "\(garbage)")
        #expect(garbage.stdout.contains("decode_failed:"), "\(garbage.stdout)")
    }

    @Test("usage errors exit 2 with a message on standard error")
    func usage() async throws {
        let value = try self.alb("cli-good")
        let cases: [[String]] = [
            ["--header-format", "url_encoded", "--header-value", value],
            ["--ca", self.ca, "--header-format", "pem", "--header-value", value],
            ["--ca", self.ca, "--header-format", "url_encoded"],
            ["--ca", self.ca, "--header-format", "url_encoded", "--header-value", value, "--header-file", self.ca],
            ["--ca", self.dir.path("missing.pem"), "--header-format", "url_encoded", "--header-value", value],
            ["--ca", self.ca, "--header-format", "url_encoded", "--header-value", value, "--at", "yesterday"],
            ["--ca", self.ca, "--header-format", "url_encoded", "--header-value", value, "--revocation", "MAYBE"],
            ["--ca", self.ca, "--no-such-option"],
        ]
        for arguments in cases {
            let result = try await self.verify(arguments)
            #expect(result.status == 2, "\(arguments): \(result)")
            #expect(!result.stderr.isEmpty, "\(arguments)")
        }
    }
}
