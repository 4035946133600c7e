import Foundation

/// Certificates minted once per test run with the `openssl` CLI in a temporary directory.
package struct TestPKI: Sendable {
    /// A self-signed CA (basicConstraints critical CA:TRUE), valid for ten years from now.
    package var ca: String
    /// `openssl x509 -outform DER | openssl dgst -sha256` of ``ca``, as OpenSSL computes it.
    package var caDigest: String
    /// A second, unrelated CA.
    package var otherCA: String
    /// A CA valid for exactly one day from now: expired for any `now` more than a day ahead.
    package var shortCA: String
    /// A self-signed certificate with basicConstraints CA:FALSE.
    package var leaf: String
    /// A certificate without a basicConstraints extension at all.
    package var bare: String

    package struct Failure: Error, CustomStringConvertible {
        package var description: String
    }

    package static let shared: Result<TestPKI, Failure> = Result { () throws(Failure) -> TestPKI in try TestPKI.mint() }

    package static func load() throws -> TestPKI { try self.shared.get() }

    private static func mint() throws(Failure) -> TestPKI {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-pki-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw Failure(description: "cannot create \(dir.path): \(error)")
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = """
            [req]
            distinguished_name = dn
            prompt = no
            [dn]
            CN = placeholder
            [ca_ext]
            basicConstraints = critical,CA:TRUE
            keyUsage = critical,keyCertSign,cRLSign
            subjectKeyIdentifier = hash
            [leaf_ext]
            basicConstraints = critical,CA:FALSE
            keyUsage = critical,digitalSignature
            [bare_ext]
            subjectKeyIdentifier = hash

            """
        let cfg = dir.appendingPathComponent("openssl.cnf").path
        do {
            try config.write(toFile: cfg, atomically: true, encoding: .utf8)
        } catch {
            throw Failure(description: "cannot write \(cfg): \(error)")
        }

        func cert(_ name: String, subject: String, extensions: String, days: Int) throws(Failure) -> String {
            let out = dir.appendingPathComponent("\(name).pem").path
            try self.run(["req", "-x509", "-config", cfg, "-extensions", extensions,
                          "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", dir.appendingPathComponent("\(name).key").path,
                          "-out", out, "-days", String(days), "-subj", subject])
            do {
                return try String(contentsOfFile: out, encoding: .utf8)
            } catch {
                throw Failure(description: "cannot read \(out): \(error)")
            }
        }

        let ca = try cert("ca", subject: "/O=Portcullis Tests/CN=Test Root CA", extensions: "ca_ext", days: 3650)
        let der = dir.appendingPathComponent("ca.der").path
        try self.run(["x509", "-in", dir.appendingPathComponent("ca.pem").path, "-outform", "DER", "-out", der])
        let dgst = try self.run(["dgst", "-sha256", "-r", der])
        guard let digest = dgst.split(separator: " ").first.map(String.init), digest.count == 64 else {
            throw Failure(description: "unexpected dgst output: \(dgst)")
        }
        return TestPKI(
            ca: ca,
            caDigest: digest,
            otherCA: try cert("other", subject: "/CN=Other CA", extensions: "ca_ext", days: 3650),
            shortCA: try cert("short", subject: "/CN=Short-lived CA", extensions: "ca_ext", days: 1),
            leaf: try cert("leaf", subject: "/CN=client.example.com", extensions: "leaf_ext", days: 3650),
            bare: try cert("bare", subject: "/CN=bare", extensions: "bare_ext", days: 3650)
        )
    }

    @discardableResult
    private static func run(_ arguments: [String]) throws(Failure) -> String {
        do {
            return try OpenSSLCLI.run(arguments)
        } catch {
            throw Failure(description: error.description)
        }
    }
}
