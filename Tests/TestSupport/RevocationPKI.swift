import Foundation
import Synchronization

/// A PKI with revocation information, minted once per test process with the `openssl` CLI, and the loopback
/// servers its certificates point at (``RevocationServer``, a ``SilentServer``, a closed port).
///
/// root → intermediate (CRL distribution point `/crl/root.crl`) → client leaves, each with its own OCSP path so
/// request counts do not mix between tests (a test asserting a count uses a leaf no other test uses). The minting
/// directory is removed once minted: the responder gets the files' contents. Servers live as long as the test
/// process and only listen on 127.0.0.1.
package final class RevocationPKI: Sendable {
    package struct Cert: Sendable {
        package var pem: String
        package var der: [UInt8]
    }

    package let server: RevocationServer
    package let silent: SilentServer
    /// Nothing listens there.
    package let closedPort: Int
    package let root: Cert
    package let intermediate: Cert
    /// Leaves by name (see ``leaves``).
    private let certs: [String: Cert]

    /// Name → (OCSP URL path or full URL, CRL path, revoked). Paths are relative to the revocation server.
    static func leaves(closed: Int, silent: Int) -> [(name: String, ocsp: String?, crl: String?, revoked: Bool)] {
        [
            ("good", "/ocsp/good", nil, false),
            ("revoked", "/ocsp/revoked", nil, true),
            ("issuer-signed", "/issuer/issuer-signed", nil, false),
            ("tampered", "/tampered/tampered", nil, false),
            ("rogue", "/rogue/rogue", nil, false),
            ("crl-good", nil, "/crl/int.crl", false),
            ("crl-revoked", nil, "/crl/int.crl", true),
            ("crl-pem-revoked", nil, "/crl/int.pem", true),
            ("down", "http://127.0.0.1:\(closed)/ocsp/down", nil, false),
            ("down-then-crl", "http://127.0.0.1:\(closed)/ocsp/down", "/crl/int.crl", false),
            ("slow", "http://127.0.0.1:\(silent)/ocsp/slow", nil, false),
            ("too-large", nil, "/big.crl", false),
            ("no-info", nil, nil, false),
            ("cache", "/ocsp/cache", nil, false),
            ("coalesce", "/ocsp/coalesce", nil, false),
            ("proxy-good", "/ocsp/proxy-good", nil, false),
            ("proxy-revoked", "/ocsp/proxy-revoked", nil, true),
            ("cli-good", "/ocsp/cli-good", nil, false),
            ("cli-revoked", "/ocsp/cli-revoked", nil, true),
            ("partial", "/ocsp/partial", nil, false),
            ("http-404", "/missing/http-404", nil, false),
        ]
    }

    package func leaf(_ name: String) throws -> Cert {
        guard let cert = self.certs[name] else { throw OpenSSLCLI.Failure(description: "no leaf named \(name)") }
        return cert
    }

    private init(server: RevocationServer, silent: SilentServer, closedPort: Int, root: Cert, intermediate: Cert,
                 certs: [String: Cert])
    {
        self.server = server
        self.silent = silent
        self.closedPort = closedPort
        self.root = root
        self.intermediate = intermediate
        self.certs = certs
    }

    private static let shared = Mutex<Task<RevocationPKI, any Error>?>(nil)

    /// The process-wide instance, minted on first use.
    package static func load() async throws -> RevocationPKI {
        let task = self.shared.withLock { shared in
            if let task = shared { return task }
            let task = Task { try await self.mint() }
            shared = task
            return task
        }
        return try await task.value
    }

    private static func mint() async throws -> RevocationPKI {
        let server = try await RevocationServer.start()
        let silent = try await SilentServer.start()
        let closed = try await ClosedPort.reserve()
        let base = "http://127.0.0.1:\(server.port)"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("revocation-pki-\(UUID().uuidString)")
        let path = dir.path
        defer { try? FileManager.default.removeItem(at: dir) }
        let leaves = self.leaves(closed: closed, silent: silent.port)
        var extensions = """
            \(X509Profiles.rootCA(section: "root_ext"))\(X509Profiles.intermediateCA(
                section: "int_ext", extra: ["crlDistributionPoints = URI:\(base)/crl/root.crl"]))[responder_ext]
            basicConstraints = critical,CA:FALSE
            keyUsage = critical,digitalSignature
            extendedKeyUsage = OCSPSigning
            subjectKeyIdentifier = hash
            authorityKeyIdentifier = keyid:always
            noCheck = ignored

            """
        for leaf in leaves {
            extensions += """
                [ext_\(leaf.name)]
                basicConstraints = critical,CA:FALSE
                keyUsage = critical,digitalSignature
                extendedKeyUsage = clientAuth
                subjectKeyIdentifier = hash
                authorityKeyIdentifier = keyid:always

                """
            if let ocsp = leaf.ocsp {
                extensions += "authorityInfoAccess = OCSP;URI:\(ocsp.hasPrefix("/") ? base + ocsp : ocsp)\n"
            }
            if let crl = leaf.crl { extensions += "crlDistributionPoints = URI:\(base)\(crl)\n" }
        }
        for db in ["rootdb", "intdb"] {
            try FileManager.default.createDirectory(atPath: "\(path)/\(db)/new", withIntermediateDirectories: true)
            try Data().write(to: URL(fileURLWithPath: "\(path)/\(db)/index.txt"))
            try Data("01\n".utf8).write(to: URL(fileURLWithPath: "\(path)/\(db)/serial"))
            try Data("01\n".utf8).write(to: URL(fileURLWithPath: "\(path)/\(db)/crlnumber"))
            let config = """
                [ca]
                default_ca = ca_default
                [ca_default]
                database = \(path)/\(db)/index.txt
                new_certs_dir = \(path)/\(db)/new
                serial = \(path)/\(db)/serial
                crlnumber = \(path)/\(db)/crlnumber
                default_md = sha256
                default_crl_days = 1
                policy = policy_any
                unique_subject = no
                copy_extensions = none
                [policy_any]
                organizationName = optional
                commonName = optional
                [req]
                distinguished_name = dn
                prompt = no
                [dn]
                CN = placeholder
                [crl_ext]
                authorityKeyIdentifier = keyid:always

                """ + extensions
            try Data(config.utf8).write(to: URL(fileURLWithPath: "\(path)/\(db).cnf"))
        }
        let now = Int64(Date().timeIntervalSince1970)
        let day: Int64 = 86_400

        func issue(_ name: String, subject: String, ext: String, db: String, issuer: String?,
                   days: Int64 = 365) throws -> Cert
        {
            let key = "\(path)/\(name).key"
            let csr = "\(path)/\(name).csr"
            let pem = "\(path)/\(name).pem"
            try OpenSSLCLI.run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key])
            try OpenSSLCLI.run(["req", "-new", "-config", "\(path)/\(db).cnf", "-key", key, "-subj", subject,
                                "-out", csr])
            var args = ["ca", "-batch", "-config", "\(path)/\(db).cnf", "-in", csr, "-extensions", ext, "-notext",
                        "-rand_serial", "-preserveDN", "-startdate", Self.stamp(now - day),
                        "-enddate", Self.stamp(now + days * day), "-out", pem]
            if let issuer {
                args += ["-cert", "\(path)/\(issuer).pem", "-keyfile", "\(path)/\(issuer).key"]
            } else {
                args += ["-selfsign", "-keyfile", key]
            }
            try OpenSSLCLI.run(args)
            let text = try String(contentsOfFile: pem, encoding: .utf8)
            return Cert(pem: text, der: try Self.der(text))
        }

        let root = try issue("root", subject: "/O=Portcullis Tests/CN=Revocation Root CA", ext: "root_ext",
                             db: "rootdb", issuer: nil, days: 3650)
        let intermediate = try issue("int", subject: "/O=Portcullis Tests/CN=Revocation Issuing CA", ext: "int_ext",
                                     db: "rootdb", issuer: "root", days: 1825)
        _ = try issue("responder", subject: "/CN=Revocation OCSP Responder", ext: "responder_ext", db: "intdb",
                      issuer: "int")
        try OpenSSLCLI.run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                            "-keyout", "\(path)/rogue.key", "-out", "\(path)/rogue.pem", "-subj",
                            "/CN=Rogue OCSP Responder", "-days", "30", "-addext", "extendedKeyUsage=OCSPSigning"])
        var certs: [String: Cert] = [:]
        for leaf in leaves {
            certs[leaf.name] = try issue(leaf.name, subject: "/O=Portcullis Tests/CN=\(leaf.name).revocation.test",
                                         ext: "ext_\(leaf.name)", db: "intdb", issuer: "int")
        }
        for leaf in leaves where leaf.revoked {
            try OpenSSLCLI.run(["ca", "-config", "\(path)/intdb.cnf", "-cert", "\(path)/int.pem", "-keyfile",
                                "\(path)/int.key", "-revoke", "\(path)/\(leaf.name).pem", "-crl_reason",
                                "keyCompromise"])
        }
        func crl(_ db: String, _ issuer: String) throws -> (der: [UInt8], pem: String) {
            let pem = "\(path)/\(db).crl.pem"
            try OpenSSLCLI.run(["ca", "-config", "\(path)/\(db).cnf", "-gencrl", "-crlexts", "crl_ext",
                                "-cert", "\(path)/\(issuer).pem", "-keyfile", "\(path)/\(issuer).key", "-out", pem])
            try OpenSSLCLI.run(["crl", "-in", pem, "-outform", "DER", "-out", "\(path)/\(db).crl"])
            return (Array(try Data(contentsOf: URL(fileURLWithPath: "\(path)/\(db).crl"))),
                    try String(contentsOfFile: pem, encoding: .utf8))
        }
        let intCRL = try crl("intdb", "int")
        let rootCRL = try crl("rootdb", "root")
        server.setCRL("int.crl", intCRL.der)
        server.setCRL("int.pem", Array(intCRL.pem.utf8))
        server.setCRL("root.crl", rootCRL.der)
        func read(_ name: String) throws -> String { try String(contentsOfFile: "\(path)/\(name)", encoding: .utf8) }
        server.setResponder(RevocationServer.Responder(
            index: try read("intdb/index.txt"), caPEM: intermediate.pem, caKey: try read("int.key"),
            signerPEM: try read("responder.pem"), signerKey: try read("responder.key"),
            roguePEM: try read("rogue.pem"), rogueKey: try read("rogue.key")))
        return RevocationPKI(server: server, silent: silent, closedPort: closed, root: root,
                             intermediate: intermediate, certs: certs)
    }

    static func der(_ pem: String) throws -> [UInt8] {
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let data = Data(base64Encoded: body) else { throw OpenSSLCLI.Failure(description: "bad PEM") }
        return Array(data)
    }

    private static func stamp(_ t: Int64) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMddHHmmss'Z'"
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(t)))
    }
}
