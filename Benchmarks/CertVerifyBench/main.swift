// Uncached client-certificate chain verification, per core, against the signature-only limit (issue 5).
//
// For RSA-2048 and ECDSA P-256 it mints with the openssl CLI a root → intermediate → clientAuth leaf PKI, builds
// the header AWS ALB sends (URL-encoded PEM chain, leaf first) and authenticates it, single-threaded, through what
// the header-cert-auth plugin runs per request (HeaderCertificateAuthenticator: header digest, cache lookup,
// decoding, ChainVerifier with the root as trust store, identity extraction) with a verdict cache that keeps
// nothing (`cert_cache_ttl: 0`), so every iteration decodes and verifies. The limit is `openssl speed`'s verify
// rate for the key type ÷ 2 (the leaf's and the intermediate's signatures; the anchor's own is not checked).
// Rates are per CPU second of the measuring thread, as `openssl speed` divides by CPU (user) time: on a busy
// machine the ratio holds whatever share of a core the run gets.
// Run it in release:  swift run -c release certverify-bench [seconds per key type] [max iterations]
import CertAuth
import Foundation
import TestSupport

let args = CommandLine.arguments
let seconds = args.count > 1 ? max(0.2, min(Double(args[1]) ?? 3, 60)) : 3
let maxIterations = args.count > 2 ? max(1, min(Int(args[2]) ?? 2_000_000, 20_000_000)) : 2_000_000
/// Signatures checked per verification: the leaf's (by the intermediate) and the intermediate's (by the root).
let signaturesPerChain = 2.0

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
}

/// CPU time of the calling thread, in seconds.
func threadCPU() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

func wallClock() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// One key type: how `openssl genpkey` makes its keys and which `openssl speed` algorithm measures them.
struct KeyType {
    var name: String
    var genpkey: [String]
    var speedAlgorithm: String
    /// The `-mr` result line of `openssl speed` for this algorithm (`+F2` RSA, `+F4` ECDSA).
    var speedTag: String
}

let keyTypes = [
    KeyType(name: "RSA-2048", genpkey: ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            speedAlgorithm: "rsa2048", speedTag: "+F2"),
    KeyType(name: "ECDSA P-256", genpkey: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            speedAlgorithm: "ecdsap256", speedTag: "+F4"),
]

/// Mints root → intermediate → client leaf of one key type in `dir`; returns (root PEM, leaf PEM, intermediate PEM).
func mint(_ type: KeyType, in dir: String) throws -> (root: String, leaf: String, intermediate: String) {
    let cnf = "\(dir)/openssl.cnf"
    let config = """
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
        subjectAltName = DNS:client.example.com,URI:spiffe://example.org/ns/bench/sa/client

        """
    try config.write(toFile: cnf, atomically: true, encoding: .utf8)
    for name in ["root", "int", "leaf"] {
        try OpenSSLCLI.run(["genpkey"] + type.genpkey + ["-out", "\(dir)/\(name).key"])
    }
    try OpenSSLCLI.run(["req", "-x509", "-new", "-config", cnf, "-key", "\(dir)/root.key", "-sha256", "-days", "3650",
                        "-subj", "/O=Portcullis Bench/CN=Bench Root CA", "-extensions", "root_ext",
                        "-out", "\(dir)/root.pem"])
    func issue(_ name: String, subject: String, ext: String, by issuer: String, serial: String) throws {
        try OpenSSLCLI.run(["req", "-new", "-config", cnf, "-key", "\(dir)/\(name).key", "-subj", subject,
                            "-out", "\(dir)/\(name).csr"])
        try OpenSSLCLI.run(["x509", "-req", "-in", "\(dir)/\(name).csr", "-CA", "\(dir)/\(issuer).pem",
                            "-CAkey", "\(dir)/\(issuer).key", "-set_serial", serial, "-sha256", "-days", "365",
                            "-extfile", cnf, "-extensions", ext, "-out", "\(dir)/\(name).pem"])
    }
    try issue("int", subject: "/O=Portcullis Bench/CN=Bench Issuing CA", ext: "int_ext", by: "root",
              serial: "0x5E1F0001")
    try issue("leaf", subject: "/C=US/O=Portcullis Bench/OU=ENG/CN=bench-client", ext: "client_ext", by: "int",
              serial: "0x5E1F0002")
    func read(_ name: String) throws -> String { try String(contentsOfFile: "\(dir)/\(name).pem", encoding: .utf8) }
    return (try read("root"), try read("leaf"), try read("int"))
}

/// `openssl speed -seconds N -mr ALG`: the verify rate (per CPU second) from the `+F2`/`+F4` line
/// (`tag:index:bits:sign/s:verify/s`).
func opensslVerifyRate(_ type: KeyType, seconds: Int) throws -> Double {
    let out = try OpenSSLCLI.run(["speed", "-seconds", "\(seconds)", "-mr", type.speedAlgorithm])
    for line in out.split(whereSeparator: \.isNewline) where line.hasPrefix(type.speedTag + ":") {
        let fields = line.split(separator: ":")
        if fields.count >= 5, let rate = Double(fields[4]), rate > 0 { return rate }
    }
    throw BenchFailure(description: "no \(type.speedTag) verify rate in `openssl speed -mr \(type.speedAlgorithm)`:\n\(out)")
}

struct Measurement {
    var iterations: Int
    var cpu: Double
    var wall: Double
    var perCPUSecond: Double { Double(self.iterations) / self.cpu }
}

/// Authenticates `header` until the thread has used `seconds` of CPU (or 4× that of wall time, or `maxIterations`).
func measure(_ auth: HeaderCertificateAuthenticator, header: String, seconds: Double) throws -> Measurement {
    var rejected: Outcome?
    func once() -> Bool {
        let outcome = auth.authenticate(header: header, now: Int64(Date().timeIntervalSince1970))
        if case .verdict(.trusted, cached: false) = outcome { return true }
        rejected = outcome
        return false
    }
    for _ in 0..<50 {
        guard once() else {
            throw BenchFailure(description: "warm-up: chain not trusted uncached: \(String(describing: rejected))")
        }
    }
    let cpu0 = threadCPU()
    let wall0 = wallClock()
    var n = 0
    var cpu = 0.0
    var wall = 0.0
    repeat {
        for _ in 0..<16 {
            guard once() else {
                throw BenchFailure(description: "iteration \(n): chain not trusted uncached: "
                    + String(describing: rejected))
            }
        }
        n += 16
        cpu = threadCPU() - cpu0
        wall = wallClock() - wall0
    } while cpu < seconds && wall < 4 * seconds && n < maxIterations
    return Measurement(iterations: n, cpu: cpu, wall: wall)
}
typealias Outcome = HeaderCertificateAuthenticator.Outcome

func run() throws {
    let version = (try? OpenSSLCLI.run(["version"]))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
    print("uncached chain verification (ALB url-encoded leaf + intermediate, trust store = root), one thread")
    print("openssl: \(version); \(seconds) CPU s per key type")
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("certverify-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: base) }

    var rows: [String] = []
    for (i, type) in keyTypes.enumerated() {
        let dir = base.appendingPathComponent("pki-\(i)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let pki = try mint(type, in: dir)
        let header = Encode.alb(pki.leaf + pki.intermediate)
        let verifier = ChainVerifier(trustStore: try TrustStore(pems: [pki.root]))
        // ttl 0: the plugin's `cert_cache_ttl: 0`; nothing is kept, every call decodes and verifies.
        let auth = HeaderCertificateAuthenticator(decoder: HeaderDecoder(format: .urlEncoded), verifier: verifier,
                                                  cache: VerdictCache(capacity: 1, ttl: 0))
        guard case .verdict(.trusted(let verified), cached: false) = auth.authenticate(
            header: header, now: Int64(Date().timeIntervalSince1970)),
            verified.identity.commonName == "bench-client", verified.chainLength == 3
        else {
            throw BenchFailure(description: "\(type.name): the minted chain does not verify as expected")
        }
        let m = try measure(auth, header: header, seconds: seconds)
        let limitRate = try opensslVerifyRate(type, seconds: Int(seconds.rounded(.up))) / signaturesPerChain
        let ratio = m.perCPUSecond / limitRate
        print("\(type.name): " + String(format: "%d verifications in %.2f CPU s (%.2f s wall): %.0f/s per core, "
                     + "%.1f µs each; limit %.0f/s (openssl speed verify/s ÷ %.0f); ratio %.2f (goal ≥ 0.5)",
                     m.iterations, m.cpu, m.wall, m.perCPUSecond, 1e6 / m.perCPUSecond, limitRate,
                     signaturesPerChain, ratio))
        rows.append(type.name.padding(toLength: 12, withPad: " ", startingAt: 0)
            + String(format: " %10.0f %10.0f %6.2f", m.perCPUSecond, limitRate, ratio))
    }
    print("key type        chains/s    limit/s  ratio")
    for row in rows { print(row) }
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("certverify-bench: \(error)\n".utf8))
    exit(1)
}
