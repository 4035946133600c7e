import Foundation

/// A client-certificate PKI (shared by the CertAuth, DataPlane and integration tests) minted once per test run with the `openssl` CLI (`openssl ca`, explicit dates).
///
/// root → intermediate (pathlen 0) → client leaves of every kind the verifier must tell apart; an unrelated root
/// with its own leaf. EC P-256 unless noted. All dates are relative to ``now`` (the mint time, whole seconds).
package struct CertAuthPKI: Sendable {
    package struct Cert: Sendable {
        package var pem: String
        package var der: [UInt8]
        /// `openssl x509 -serial`: uppercase hex.
        package var serial: String
        /// `openssl dgst -sha256` of the DER.
        package var sha256: String
        package var notBefore: Int64
        package var notAfter: Int64
    }

    package struct Failure: Error, CustomStringConvertible {
        package var description: String
    }

    package static let day: Int64 = 86_400

    package let now: Int64
    package let root: Cert
    package let intermediate: Cert
    package let otherRoot: Cert
    /// Subject `/C=US/ST=CA/L=SF/O=KONG/OU=ENG/CN=kongclient`; SANs DNS, URI (SPIFFE), email, IPv4, IPv6;
    /// EKU clientAuth; valid from now−1d to now+365d.
    package let leaf: Cert
    /// No SAN; subject `/O=Acme/OU=first/OU=second/CN=cn-only.example`.
    package let cnOnly: Cert
    /// now−10d … now−1d.
    package let expired: Cert
    /// now+1d … now+30d.
    package let future: Cert
    /// basicConstraints CA:TRUE with clientAuth.
    package let leafIsCA: Cert
    /// EKU serverAuth only.
    package let serverOnly: Cert
    /// EKU anyExtendedKeyUsage only.
    package let anyEKU: Cert
    /// An empty EKU sequence.
    package let emptyEKU: Cert
    /// No EKU extension at all.
    package let noEKU: Cert
    /// Issued by ``otherRoot``.
    package let otherLeaf: Cert
    /// RSA-1024 key, clientAuth.
    package let weakRSA: Cert
    /// A dNSName SAN with an embedded NUL (`evil\0.good`).
    package let nulSAN: Cert

    package static let shared: Result<CertAuthPKI, Failure> = Result { () throws(Failure) -> CertAuthPKI in try mint() }
    package static func load() throws -> CertAuthPKI { try self.shared.get() }

    private static let config = """
        [ca]
        default_ca = ca_default
        [ca_default]
        database = DIR/index.txt
        new_certs_dir = DIR/newcerts
        serial = DIR/serial
        default_md = sha256
        policy = policy_any
        unique_subject = no
        copy_extensions = none
        [policy_any]
        countryName = optional
        stateOrProvinceName = optional
        localityName = optional
        organizationName = optional
        organizationalUnitName = optional
        commonName = optional
        emailAddress = optional
        [req]
        distinguished_name = dn
        prompt = no
        [dn]
        CN = placeholder
        \(X509Profiles.rootCA(section: "root_ext"))\(X509Profiles.intermediateCA(section: "int_ext"))[client_ext]
        basicConstraints = critical,CA:FALSE
        keyUsage = critical,digitalSignature
        extendedKeyUsage = clientAuth
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid:always
        subjectAltName = @client_san
        [client_san]
        DNS.1 = client.example.com
        URI.1 = spiffe://example.org/ns/prod/sa/api
        email.1 = ops@example.com
        IP.1 = 192.0.2.7
        IP.2 = 2001:db8::7
        [plain_ext]
        basicConstraints = critical,CA:FALSE
        keyUsage = critical,digitalSignature
        extendedKeyUsage = clientAuth
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid:always
        [leafca_ext]
        basicConstraints = critical,CA:TRUE
        keyUsage = critical,digitalSignature,keyCertSign
        extendedKeyUsage = clientAuth
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid:always
        [server_ext]
        basicConstraints = critical,CA:FALSE
        keyUsage = critical,digitalSignature
        extendedKeyUsage = serverAuth
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid:always
        [anyeku_ext]
        basicConstraints = critical,CA:FALSE
        keyUsage = critical,digitalSignature
        extendedKeyUsage = anyExtendedKeyUsage
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid:always
        [emptyeku_ext]
        basicConstraints = critical,CA:FALSE
        keyUsage = critical,digitalSignature
        extendedKeyUsage = DER:30:00
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid:always
        [nulsan_ext]
        basicConstraints = critical,CA:FALSE
        keyUsage = critical,digitalSignature
        extendedKeyUsage = clientAuth
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid:always
        subjectAltName = DER:30:0C:82:0A:65:76:69:6C:00:2E:67:6F:6F:64
        [noeku_ext]
        basicConstraints = critical,CA:FALSE
        keyUsage = critical,digitalSignature
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid:always

        """

    private static func mint() throws(Failure) -> CertAuthPKI {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("certauth-pki-\(UUID().uuidString)")
        let path = dir.path
        do {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("newcerts"),
                                                    withIntermediateDirectories: true)
            try "".write(toFile: "\(path)/index.txt", atomically: true, encoding: .utf8)
            try "01\n".write(toFile: "\(path)/serial", atomically: true, encoding: .utf8)
            try self.config.replacingOccurrences(of: "DIR", with: path)
                .write(toFile: "\(path)/openssl.cnf", atomically: true, encoding: .utf8)
        } catch {
            throw Failure(description: "cannot prepare \(path): \(error)")
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let cnf = "\(path)/openssl.cnf"
        let now = Int64(Date().timeIntervalSince1970)

        func issue(_ name: String, subject: String, ext: String, from: Int64, to: Int64, issuer: String?,
                   key: [String] = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]) throws(Failure)
            -> Cert
        {
            let keyFile = "\(path)/\(name).key"
            let csr = "\(path)/\(name).csr"
            let pem = "\(path)/\(name).pem"
            try self.run(["genpkey"] + key + ["-out", keyFile])
            try self.run(["req", "-new", "-config", cnf, "-key", keyFile, "-subj", subject, "-out", csr])
            var args = ["ca", "-batch", "-config", cnf, "-in", csr, "-extensions", ext, "-notext", "-rand_serial",
                        "-preserveDN", "-startdate", self.stamp(from), "-enddate", self.stamp(to), "-out", pem]
            if let issuer {
                args += ["-cert", "\(path)/\(issuer).pem", "-keyfile", "\(path)/\(issuer).key"]
            } else {
                args += ["-selfsign", "-keyfile", keyFile]
            }
            try self.run(args)
            let text: String
            do {
                text = try String(contentsOfFile: pem, encoding: .utf8)
            } catch {
                throw Failure(description: "cannot read \(pem): \(error)")
            }
            let der = "\(path)/\(name).der"
            try self.run(["x509", "-in", pem, "-outform", "DER", "-out", der])
            let derBytes: [UInt8]
            do {
                derBytes = Array(try Data(contentsOf: URL(fileURLWithPath: der)))
            } catch {
                throw Failure(description: "cannot read \(der): \(error)")
            }
            let serial = try self.run(["x509", "-in", pem, "-noout", "-serial"])
                .trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "serial=", with: "")
            let digest = try self.run(["dgst", "-sha256", "-r", der]).split(separator: " ").first.map(String.init)
            return Cert(pem: text, der: derBytes, serial: serial, sha256: digest ?? "", notBefore: from, notAfter: to)
        }

        let d = self.day
        let root = try issue("root", subject: "/O=Portcullis Tests/CN=Client Root CA", ext: "root_ext",
                             from: now - 2 * d, to: now + 3650 * d, issuer: nil)
        let intermediate = try issue("int", subject: "/O=Portcullis Tests/CN=Client Issuing CA", ext: "int_ext",
                                     from: now - 2 * d, to: now + 1825 * d, issuer: "root")
        let otherRoot = try issue("other", subject: "/CN=Unrelated Root CA", ext: "root_ext",
                                  from: now - 2 * d, to: now + 3650 * d, issuer: nil)
        func client(_ name: String, _ ext: String, subject: String? = nil, from: Int64 = now - d,
                    to: Int64 = now + 365 * d, issuer: String = "int", key: [String]? = nil) throws(Failure) -> Cert {
            if let key {
                return try issue(name, subject: subject ?? "/CN=\(name).example", ext: ext, from: from, to: to,
                                 issuer: issuer, key: key)
            }
            return try issue(name, subject: subject ?? "/CN=\(name).example", ext: ext, from: from, to: to,
                             issuer: issuer)
        }
        return CertAuthPKI(
            now: now,
            root: root,
            intermediate: intermediate,
            otherRoot: otherRoot,
            leaf: try client("leaf", "client_ext", subject: "/C=US/ST=CA/L=SF/O=KONG/OU=ENG/CN=kongclient"),
            cnOnly: try client("cnonly", "plain_ext", subject: "/O=Acme/OU=first/OU=second/CN=cn-only.example"),
            expired: try client("expired", "plain_ext", from: now - 10 * d, to: now - d),
            future: try client("future", "plain_ext", from: now + d, to: now + 30 * d),
            leafIsCA: try client("leafca", "leafca_ext"),
            serverOnly: try client("server", "server_ext"),
            anyEKU: try client("anyeku", "anyeku_ext"),
            emptyEKU: try client("emptyeku", "emptyeku_ext"),
            noEKU: try client("noeku", "noeku_ext"),
            otherLeaf: try client("otherleaf", "plain_ext", issuer: "other"),
            weakRSA: try client("weak", "plain_ext", key: ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]),
            nulSAN: try client("nulsan", "nulsan_ext")
        )
    }

    private static func stamp(_ t: Int64) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMddHHmmss'Z'"
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(t)))
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

/// Header encodings as the load balancers produce them.
package enum Encode {
    /// AWS ALB: RFC 3986 escaping except the "safe" `+ = /` (and unreserved), newline as `%0A`, space `%20`.
    package static func alb(_ pem: String) -> String { self.percent(pem, keep: "+=/") }

    /// nginx `$ssl_client_escaped_cert` / Kong's fixtures: everything but unreserved characters escaped.
    package static func full(_ pem: String) -> String { self.percent(pem, keep: "") }

    package static func percent(_ text: String, keep: String) -> String {
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
        let keep = Set(keep.utf8)
        var out = ""
        for b in text.utf8 {
            if unreserved.contains(b) || keep.contains(b) {
                out.append(Character(Unicode.Scalar(b)))
            } else {
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    package static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
}
