import Foundation

/// Files for TLS tests, minted with the `openssl` CLI into a directory the caller owns: a CA, a server
/// certificate it signed (SAN `DNS:localhost`, `IP:127.0.0.1`) with its key, and an unrelated CA.
package struct TestServerPKI: Sendable {
    /// PEM of the CA that signed the server certificate, and its path.
    package var caPEM: String
    package var caPath: String
    /// PEM of a CA that signed nothing here.
    package var otherCAPEM: String
    /// The server certificate (PEM, leaf only) and its unencrypted PEM key.
    package var certPath: String
    package var keyPath: String

    /// Mints everything into `directory` (which must exist).
    package static func mint(in directory: String) throws -> TestServerPKI {
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
            [server_ext]
            basicConstraints = critical,CA:FALSE
            keyUsage = critical,digitalSignature
            extendedKeyUsage = serverAuth
            subjectAltName = DNS:localhost,IP:127.0.0.1

            """
        func path(_ name: String) -> String { URL(fileURLWithPath: directory).appendingPathComponent(name).path }
        let cfg = path("openssl-server.cnf")
        try config.write(toFile: cfg, atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try Self.openssl(["req", "-x509", "-config", cfg, "-extensions", "ca_ext"] + ec
            + ["-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "3650", "-subj", "/CN=Portcullis Test Server CA"])
        try Self.openssl(["req", "-x509", "-config", cfg, "-extensions", "ca_ext"] + ec
            + ["-keyout", path("other-ca.key"), "-out", path("other-ca.pem"), "-days", "3650", "-subj", "/CN=Other Server CA"])
        try Self.openssl(["req", "-new", "-config", cfg] + ec
            + ["-keyout", path("server.key"), "-out", path("server.csr"), "-subj", "/CN=localhost"])
        try Self.openssl(["x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                          "-CAcreateserial", "-out", path("server.pem"), "-days", "3650",
                          "-extfile", cfg, "-extensions", "server_ext"])
        return TestServerPKI(
            caPEM: try String(contentsOfFile: path("ca.pem"), encoding: .utf8), caPath: path("ca.pem"),
            otherCAPEM: try String(contentsOfFile: path("other-ca.pem"), encoding: .utf8),
            certPath: path("server.pem"), keyPath: path("server.key"))
    }

    private static func openssl(_ arguments: [String]) throws {
        try OpenSSLCLI.run(arguments)
    }
}
