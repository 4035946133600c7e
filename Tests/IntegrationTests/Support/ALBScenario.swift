import Foundation
import GatewayModel
import TestSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The client PKI of the ALB scenario, minted with `openssl ca` into a test's directory. Unlike ``CertAuthPKI`` the
/// keys are kept, so curl can present the certificates to nginx.
///
/// root → intermediate (pathlen 0) → `client` (CN and SAN `demo-client`, clientAuth) and `expired` (same name,
/// ended yesterday), `big` (230 SANs, the first `demo-client`: with its intermediate a 16 KiB PEM chain); an unrelated
/// `unknown-ca` → `unknown` (also named `demo-client`). Files: `NAME.pem`, `NAME.key`; `client-chain.pem` and
/// `expired-chain.pem` hold the leaf and the intermediate.
struct ALBPKI {
    let directory: String

    func path(_ name: String) -> String { "\(self.directory)/\(name).pem" }
    func key(_ name: String) -> String { "\(self.directory)/\(name).key" }
    func pem(_ name: String) throws -> String { try String(contentsOfFile: self.path(name), encoding: .utf8) }

    static func mint(in directory: String) throws -> ALBPKI {
        try FileManager.default.createDirectory(atPath: "\(directory)/issued", withIntermediateDirectories: true)
        try "".write(toFile: "\(directory)/index.txt", atomically: true, encoding: .utf8)
        try "1000\n".write(toFile: "\(directory)/serial", atomically: true, encoding: .utf8)
        let config = """
            [ca]
            default_ca = demo_ca
            [demo_ca]
            database = \(directory)/index.txt
            new_certs_dir = \(directory)/issued
            serial = \(directory)/serial
            default_md = sha256
            policy = any
            unique_subject = no
            copy_extensions = none
            [any]
            commonName = supplied
            organizationName = optional
            [req]
            distinguished_name = dn
            prompt = no
            [dn]
            CN = placeholder
            \(X509Profiles.rootCA(section: "root"))\(X509Profiles.intermediateCA(section: "intermediate"))[client]
            basicConstraints = critical,CA:FALSE
            keyUsage = critical,digitalSignature
            extendedKeyUsage = clientAuth
            subjectKeyIdentifier = hash
            authorityKeyIdentifier = keyid:always
            subjectAltName = DNS:demo-client
            [big]
            basicConstraints = critical,CA:FALSE
            keyUsage = critical,digitalSignature
            extendedKeyUsage = clientAuth
            subjectAltName = @big_names
            [big_names]
            DNS.1 = demo-client
            \((2...230).map { "DNS.\($0) = host-\($0).a-rather-long-subdomain-name.portcullis.example" }
                .joined(separator: "\n"))

            """
        let cnf = "\(directory)/openssl.cnf"
        try config.write(toFile: cnf, atomically: true, encoding: .utf8)
        let now = Date()
        func stamp(days: Int) -> String {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "UTC")
            f.dateFormat = "yyyyMMddHHmmss'Z'"
            return f.string(from: now.addingTimeInterval(TimeInterval(days) * 86_400))
        }
        func issue(_ name: String, _ subject: String, _ ext: String, issuer: String?, from: Int, to: Int) throws {
            let key = "\(directory)/\(name).key"
            let csr = "\(directory)/\(name).csr"
            try OpenSSLCLI.run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key])
            try OpenSSLCLI.run(["req", "-new", "-config", cnf, "-key", key, "-subj", subject, "-out", csr])
            var args = ["ca", "-batch", "-config", cnf, "-in", csr, "-extensions", ext, "-notext",
                        "-startdate", stamp(days: from), "-enddate", stamp(days: to),
                        "-out", "\(directory)/\(name).pem"]
            if let issuer {
                args += ["-cert", "\(directory)/\(issuer).pem", "-keyfile", "\(directory)/\(issuer).key"]
            } else {
                args += ["-selfsign", "-keyfile", key]
            }
            try OpenSSLCLI.run(args)
        }
        try issue("root", "/O=Portcullis ALB Tests/CN=Root CA", "root", issuer: nil, from: -1, to: 3650)
        try issue("intermediate", "/O=Portcullis ALB Tests/CN=Issuing CA", "intermediate", issuer: "root",
                  from: -1, to: 1825)
        try issue("client", "/O=Portcullis ALB Tests/CN=demo-client", "client", issuer: "intermediate",
                  from: -1, to: 30)
        try issue("expired", "/O=Portcullis ALB Tests/CN=demo-client", "client", issuer: "intermediate",
                  from: -30, to: -1)
        try issue("big", "/O=Portcullis ALB Tests/CN=demo-client", "big", issuer: "intermediate", from: -1, to: 30)
        try issue("unknown-ca", "/CN=Unknown CA", "root", issuer: nil, from: -1, to: 365)
        try issue("unknown", "/CN=demo-client", "client", issuer: "unknown-ca", from: -1, to: 30)
        let pki = ALBPKI(directory: directory)
        // What curl presents for a client with a chain: the leaf, then its intermediate.
        for name in ["client", "expired"] {
            let chain = try pki.pem(name) + pki.pem("intermediate")
            try chain.write(toFile: "\(directory)/\(name)-chain.pem", atomically: true, encoding: .utf8)
        }
        return pki
    }
}

/// nginx as the AWS ALB stand-in: a TLS listener on 127.0.0.1 asking for a client certificate without verifying it
/// (`ssl_verify_client optional_no_ca`; the 495 it raises for a certificate it dislikes goes upstream anyway, as ALB
/// passthrough forwards anything), forwarding it as `X-Amzn-Mtls-Clientcert: $ssl_client_escaped_cert` (the leaf
/// only, URL-encoded) to every data plane in an upstream block. Its own prefix, pid file and logs in `dir`; started
/// in the foreground (`daemon off`) so its master process is ours, stopped by PID.
enum NginxALB {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static let binary = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    static func config(prefix: String, port: Int, upstreams: [Int], cert: String, key: String) -> String {
        // As root nginx would run its worker as `nobody`; the brief is "as the current user".
        let user = geteuid() == 0 ? "user root;" : ""
        let servers = upstreams.map { "        server 127.0.0.1:\($0);" }.joined(separator: "\n")
        return """
            \(user)
            daemon off;
            worker_processes 1;
            pid \(prefix)/nginx.pid;
            error_log \(prefix)/error.log notice;
            events { worker_connections 256; }
            http {
                log_format alb '$status $upstream_addr';
                access_log \(prefix)/access.log alb;
                client_body_temp_path \(prefix)/tmp/body;
                proxy_temp_path \(prefix)/tmp/proxy;
                fastcgi_temp_path \(prefix)/tmp/fastcgi;
                uwsgi_temp_path \(prefix)/tmp/uwsgi;
                scgi_temp_path \(prefix)/tmp/scgi;
                upstream portcullis {
            \(servers)
                    keepalive 16;
                }
                server {
                    listen 127.0.0.1:\(port) ssl;
                    ssl_certificate \(cert);
                    ssl_certificate_key \(key);
                    ssl_verify_client optional_no_ca;
                    proxy_http_version 1.1;
                    proxy_set_header Connection "";
                    proxy_set_header Host $host;
                    proxy_set_header X-Amzn-Mtls-Clientcert $ssl_client_escaped_cert;
                    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                    # nginx refuses an expired certificate itself (400); ALB's passthrough forwards it.
                    error_page 495 = @passthrough;
                    location / {
                        proxy_pass http://portcullis;
                    }
                    location @passthrough {
                        proxy_pass http://portcullis;
                    }
                }
            }

            """
    }

    /// Starts nginx in `dir/nginx` proxying to `upstreams`; returns it (a ``ManagedProcess``) and its TLS port.
    /// nginx cannot report an OS-assigned port, so a free one is picked and the start retried if it was taken.
    static func start(in dir: TempDir, upstreams: [Int], cert: String, key: String) async throws
        -> (process: ManagedProcess, port: Int)
    {
        guard let binary = self.binary else {
            throw Failure(description: "nginx is not installed: `make test` installs it (APT_PACKAGES in the Makefile)")
        }
        let prefix = dir.path("nginx")
        try FileManager.default.createDirectory(atPath: prefix + "/tmp", withIntermediateDirectories: true)
        var lastLog = ""
        for attempt in 1...3 {
            let port = try closedPort()
            let conf = prefix + "/nginx.conf"
            try self.config(prefix: prefix, port: port, upstreams: upstreams, cert: cert, key: key)
                .write(toFile: conf, atomically: true, encoding: .utf8)
            let logPath = prefix + "/stderr-\(attempt).log"
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            defer { try? log.close() }
            let process = try Subprocess.spawn(
                URL(fileURLWithPath: binary), ["-p", prefix, "-c", conf, "-e", prefix + "/error.log"],
                environment: Subprocess.environment(), workingDirectory: nil, output: log, error: log)
            let managed = NginxProcess(dir: dir, process: process, logPath: logPath, name: "nginx")
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while process.isRunning, clock.now < deadline {
                if (try? RawClient(port: port)) != nil { return (managed, port) }
                try await Task.sleep(for: .milliseconds(20))
            }
            lastLog = managed.log + ((try? String(contentsOfFile: prefix + "/error.log", encoding: .utf8)) ?? "")
            _ = try? await managed.stop(timeout: .seconds(5))
        }
        throw Failure(description: "nginx did not start:\n\(lastLog)")
    }
}

/// nginx's master process. A SIGKILL would leave its worker running, so a test that ends without ``stop()`` gets a
/// SIGTERM first (the master stops the worker), a bounded wait, and only then the SIGKILL of ``ManagedProcess``.
final class NginxProcess: ManagedProcess, @unchecked Sendable {
    deinit {
        guard self.process.isRunning else { return }
        kill(self.pid, SIGTERM)
        for _ in 0..<300 where self.process.isRunning { usleep(10_000) }
    }
}

/// The whole ALB path as real processes on loopback: the echo upstream, a control plane, two data planes and nginx
/// in front of both, with the ALB scenario configured through the admin API.
final class ALBScenario: @unchecked Sendable {
    static let header = "X-Amzn-Mtls-Clientcert"
    static let rootID = "a1b00000-0000-4000-8000-000000000001"
    static let intermediateID = "a1b00000-0000-4000-8000-000000000002"

    let dir: TempDir
    let pki: ALBPKI
    let server: TestServerPKI
    let upstream: EchoUpstream
    let cp: ControlPlaneProcess
    let dps: [DataPlaneProcess]
    let nginx: ManagedProcess
    let albPort: Int
    /// A port nothing listens on: the service of `/down`.
    let downPort: Int

    private init(dir: TempDir, pki: ALBPKI, server: TestServerPKI, upstream: EchoUpstream, cp: ControlPlaneProcess,
                 dps: [DataPlaneProcess], nginx: ManagedProcess, albPort: Int, downPort: Int)
    {
        self.dir = dir
        self.pki = pki
        self.server = server
        self.upstream = upstream
        self.cp = cp
        self.dps = dps
        self.nginx = nginx
        self.albPort = albPort
        self.downPort = downPort
    }

    static func start() async throws -> ALBScenario {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.path("pki"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.path("server"), withIntermediateDirectories: true)
        let pki = try ALBPKI.mint(in: dir.path("pki"))
        let server = try TestServerPKI.mint(in: dir.path("server"))
        let upstream = try await EchoUpstream.start(in: dir)
        let cp = try await ControlPlaneProcess.start(in: dir, extra: ClusterTests.heartbeat)
        let dp1 = try await DataPlaneProcess.start(in: dir, cache: "dp1")
        let dp2 = try await DataPlaneProcess.start(in: dir, cache: "dp2")
        let (nginx, port) = try await NginxALB.start(in: dir, upstreams: [dp1.proxyPort, dp2.proxyPort],
                                                     cert: server.certPath, key: server.keyPath)
        let scenario = ALBScenario(dir: dir, pki: pki, server: server, upstream: upstream, cp: cp, dps: [dp1, dp2],
                                   nginx: nginx, albPort: port, downPort: try closedPort())
        try await cp.admin().expect(201, "POST", "/config", body: JSONWriter.string(try scenario.declarative()))
        try await ClusterTests.converge(cp, [dp1, dp2])
        return scenario
    }

    /// A header-cert-auth plugin as the scenario configures it: the ALB header, url_encoded, 127.0.0.1 trusted.
    static func plugin(cas: [String], _ extra: JSONObject = [:]) -> JSON {
        var config: JSONObject = [
            "ca_certificates": .array(cas.map(JSON.string)), "certificate_header_name": .string(self.header),
            "certificate_header_format": "url_encoded", "secure_source": true, "trusted_sources": ["127.0.0.1/32"],
            "revocation_check_mode": "SKIP",
        ]
        for (k, v) in extra { config[k] = v }
        return ["name": "header-cert-auth", "config": .object(config)]
    }

    /// The declarative configuration: `/echo` open; `/mtls` trusting root + intermediate (nginx forwards only the
    /// leaf); `/chain` trusting the root alone (for chains sent ALB-style); `/partial` and `/nopartial` trusting the
    /// intermediate alone with and without `allow_partial_chain`; `/anon` with an anonymous consumer; `/skip` with
    /// `skip_consumer_lookup`; `/down` to a closed port; `/slow` with a 300 ms read timeout. Consumers `demo-client`
    /// (matched by username) and `partner`, whose credential maps `demo-client` certificates verified by the
    /// intermediate CA.
    func declarative() throws -> JSON {
        let both = [Self.rootID, Self.intermediateID]
        func route(_ name: String, _ plugin: JSON? = nil) -> JSON {
            var r: JSONObject = ["name": .string(name), "paths": [.string("/\(name)")]]
            if let plugin { r["plugins"] = [plugin] }
            return .object(r)
        }
        let upstream = "http://127.0.0.1:\(self.upstream.port)"
        let echoRoutes: [JSON] = [
            route("echo"),
            route("mtls", Self.plugin(cas: both)),
            route("chain", Self.plugin(cas: [Self.rootID])),
            route("partial", Self.plugin(cas: [Self.intermediateID], ["allow_partial_chain": true])),
            route("nopartial", Self.plugin(cas: [Self.intermediateID])),
            route("anon", Self.plugin(cas: both, ["anonymous": "anonymous-user"])),
            route("skip", Self.plugin(cas: both, ["skip_consumer_lookup": true])),
        ]
        let echo: JSON = ["name": "echo", "url": .string(upstream), "routes": .array(echoRoutes)]
        let down: JSON = ["name": "down", "url": .string("http://127.0.0.1:\(self.downPort)"),
                          "routes": [route("down", Self.plugin(cas: both))]]
        let slow: JSON = ["name": "slow", "url": .string(upstream), "read_timeout": 300,
                          "routes": [route("slow", Self.plugin(cas: both))]]
        let root: JSON = ["id": .string(Self.rootID), "cert": .string(try self.pki.pem("root"))]
        let intermediate: JSON = ["id": .string(Self.intermediateID), "cert": .string(try self.pki.pem("intermediate"))]
        let credential: JSON = ["subject_name": "demo-client", "ca_certificate": .string(Self.intermediateID)]
        let consumers: [JSON] = [
            ["username": "demo-client"],
            ["username": "partner", "header_cert_auth_credentials": [credential]],
            ["username": "anonymous-user"],
        ]
        return ["_format_version": "3.0", "ca_certificates": [root, intermediate], "services": [echo, down, slow],
                "consumers": .array(consumers)]
    }

    var albURL: String { "https://127.0.0.1:\(self.albPort)" }

    /// A request through nginx; `cert` names a PEM of ``pki`` (`client-chain`, `expired-chain`, `unknown`) presented
    /// with its key.
    func viaALB(_ path: String, cert: String? = nil, _ options: [String] = []) async throws -> ProxyCall {
        var args = ["--cacert", self.server.caPath]
        if let cert {
            let keyName = cert.replacingOccurrences(of: "-chain", with: "")
            args += ["--cert", self.pki.path(cert), "--key", self.pki.key(keyName)]
        }
        return try await ProxyCall.curl(self.albURL + path, args + options)
    }

    /// A request straight to data plane `index`, as a load balancer at 127.0.0.1 (trusted) or another address sends.
    func direct(_ index: Int, _ path: String, header value: String?, from source: String = "127.0.0.1",
                _ options: [String] = []) async throws -> ProxyCall
    {
        var args = ["--interface", source]
        if let value { args += ["-H", "\(Self.header): \(value)"] }
        return try await ProxyCall.curl(self.dps[index].proxyURL + path, args + options)
    }

    func converge() async throws {
        try await ClusterTests.converge(self.cp, self.dps)
    }

    func stop() async throws {
        try await self.nginx.stop()
        for dp in self.dps { try await dp.stop() }
        try await self.cp.stop()
    }
}
