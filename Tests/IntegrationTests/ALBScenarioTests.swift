import Foundation
import GatewayModel
import Synchronization
import Testing
import TestSupport

/// The AWS ALB mTLS scenario through real processes: curl presents a client certificate to nginx (the ALB stand-in,
/// `ssl_verify_client optional_no_ca`), which forwards it in `X-Amzn-Mtls-Clientcert` to one of two data planes
/// (`portcullis data-plane`, configured by a `portcullis control-plane` through its admin API), which verify it and
/// proxy to the echo upstream. The plugin's decision table is unit-tested in DataPlaneTests
/// (HeaderCertAuthPluginTests); here each case crosses the whole path once.
@Suite("ALB scenario")
struct ALBScenarioTests {
    static let failed: JSON = ["message": "TLS certificate failed verification"]
    static let missing: JSON = ["message": "No required TLS certificate header was sent"]

    @Test("through nginx: open route, no certificate, a valid, an expired, an unknown one; forged headers")
    func throughTheStandIn() async throws {
        let s = try await ALBScenario.start()

        let open = try await s.viaALB("/echo", ["-H", "X-Consumer-Username: admin"])
        #expect(open.status == 200, "\(open)")
        #expect(open.echoedHeaders["x-consumer-username"] == nil, "a client's X-Consumer-Username reached the upstream")
        #expect(open.echoedHeaders["x-amzn-mtls-clientcert"] == nil)

        let none = try await s.viaALB("/mtls")
        #expect(none.status == 401, "\(none)")
        #expect(none.json == Self.missing)

        // curl sends leaf + intermediate; nginx forwards the leaf; /mtls trusts root and intermediate.
        let valid = try await s.viaALB("/mtls", cert: "client-chain", ["-H", "X-Consumer-Username: admin"])
        #expect(valid.status == 200, "\(valid)")
        #expect(valid.echoedHeaders["x-consumer-username"] == ["demo-client"])
        #expect(valid.echoedHeaders["x-consumer-id"]?.count == 1)

        let expired = try await s.viaALB("/mtls", cert: "expired-chain")
        #expect(expired.status == 401, "\(expired)")
        #expect(expired.json == Self.failed)
        let unknown = try await s.viaALB("/mtls", cert: "unknown")
        #expect(unknown.status == 401, "\(unknown)")
        #expect(unknown.json == Self.failed)

        // A client without a certificate cannot smuggle the header through nginx: it is replaced (here: removed).
        let leaf = Encode.alb(try s.pki.pem("client"))
        let smuggled = try await s.viaALB("/mtls", ["-H", "\(ALBScenario.header): \(leaf)"])
        #expect(smuggled.status == 401, "\(smuggled)")
        #expect(smuggled.json == Self.missing)

        // Straight to a data plane: the same header is refused from 127.0.0.2 (not a trusted source) and accepted
        // from 127.0.0.1 (where the load balancer is).
        for index in 0..<2 {
            let forged = try await s.direct(index, "/mtls", header: leaf, from: "127.0.0.2")
            #expect(forged.status == 401, "\(forged)")
            #expect(forged.json == Self.failed)
            let trusted = try await s.direct(index, "/mtls", header: leaf)
            #expect(trusted.status == 200, "\(trusted)")
        }

        // nginx spread its six requests over both data planes (its log: status, upstream address).
        let access = try String(contentsOfFile: s.dir.path("nginx/access.log"), encoding: .utf8)
        #expect(access.split(separator: "\n").count == 6, "\(access)")
        for dp in s.dps { #expect(access.contains("127.0.0.1:\(dp.proxyPort)"), "\(access)") }
        try await s.stop()
    }

    @Test("chains as ALB sends them, allow_partial_chain, CA-bound credentials, a 16 KiB chain")
    func chains() async throws {
        let s = try await ALBScenario.start()
        let leaf = try s.pki.pem("client")
        let chain = leaf + (try s.pki.pem("intermediate"))

        // Only the root trusted: leaf + intermediate in the header (ALB's encoding, `+ = /` left as they are) verify;
        // the leaf alone does not.
        let albChain = try await s.direct(0, "/chain", header: Encode.alb(chain))
        #expect(albChain.status == 200, "\(albChain)")
        #expect(albChain.echoedHeaders["x-consumer-username"] == ["demo-client"])
        let leafOnly = try await s.direct(1, "/chain", header: Encode.alb(leaf))
        #expect(leafOnly.status == 401, "\(leafOnly)")

        // Only the intermediate trusted: enough with allow_partial_chain, not without it.
        let partial = try await s.direct(0, "/partial", header: Encode.alb(leaf))
        #expect(partial.status == 200, "\(partial)")
        let noPartial = try await s.direct(1, "/nopartial", header: Encode.alb(chain))
        #expect(noPartial.status == 401, "\(noPartial)")

        // partner's credential maps demo-client certificates verified by the intermediate CA: it wins where the
        // intermediate is the trust anchor; where the chain ends at the root it does not apply and the username
        // match does.
        #expect(partial.echoedHeaders["x-consumer-username"] == ["partner"])
        let viaRoot = try await s.viaALB("/mtls", cert: "client-chain")
        #expect(viaRoot.echoedHeaders["x-consumer-username"] == ["demo-client"], "\(viaRoot)")

        // A 16 KiB PEM chain (a leaf with 230 SANs + the intermediate), URL-encoded as ALB does.
        let big = (try s.pki.pem("big")) + (try s.pki.pem("intermediate"))
        #expect(big.utf8.count >= 16 << 10, "the chain is only \(big.utf8.count) bytes")
        let large = try await s.direct(1, "/chain", header: Encode.alb(big))
        #expect(large.status == 200, "\(large)")
        #expect(large.echoedHeaders["x-consumer-username"] == ["demo-client"])
        try await s.stop()
    }

    @Test("anonymous fallback and skip_consumer_lookup through nginx")
    func anonymousAndSkip() async throws {
        let s = try await ALBScenario.start()
        for cert in [nil, "unknown", "expired-chain"] {
            let anon = try await s.viaALB("/anon", cert: cert)
            #expect(anon.status == 200, "\(String(describing: cert)): \(anon)")
            #expect(anon.echoedHeaders["x-consumer-username"] == ["anonymous-user"])
            #expect(anon.echoedHeaders["x-anonymous-consumer"] == ["true"])
            // A certificate that was not verified is not forwarded.
            #expect(anon.echoedHeaders["x-amzn-mtls-clientcert"] == nil)
        }
        let known = try await s.viaALB("/anon", cert: "client-chain", ["-H", "X-Anonymous-Consumer: true"])
        #expect(known.status == 200, "\(known)")
        #expect(known.echoedHeaders["x-consumer-username"] == ["demo-client"])
        #expect(known.echoedHeaders["x-anonymous-consumer"] == nil)

        let skip = try await s.viaALB("/skip", cert: "client-chain", ["-H", "X-Client-Cert-DN: CN=admin"])
        #expect(skip.status == 200, "\(skip)")
        #expect(skip.echoedHeaders["x-consumer-username"] == nil)
        let dn = try #require(skip.echoedHeaders["x-client-cert-dn"]?.first)
        #expect(skip.echoedHeaders["x-client-cert-dn"]?.count == 1)
        #expect(dn.contains("CN=demo-client"), "\(dn)")
        // Kong's value: every name of the certificate, SANs then the CN (here the same name twice).
        #expect(skip.echoedHeaders["x-client-cert-san"] == ["demo-client,demo-client"])
        let skipExpired = try await s.viaALB("/skip", cert: "expired-chain")
        #expect(skipExpired.status == 401, "\(skipExpired)")
        try await s.stop()
    }

    @Test("behind nginx: an upstream that is down is a 502, a slow one a 504 after its read_timeout")
    func upstreamFailures() async throws {
        let s = try await ALBScenario.start()
        let unauthenticated = try await s.viaALB("/down")
        #expect(unauthenticated.status == 401, "\(unauthenticated)")
        let down = try await s.viaALB("/down", cert: "client-chain")
        #expect(down.status == 502, "\(down)")

        let fast = try await s.viaALB("/slow?mode=slow&ms=10", cert: "client-chain")
        #expect(fast.status == 200, "\(fast)")
        let slow = try await s.viaALB("/slow?mode=slow&ms=3000", cert: "client-chain")
        #expect(slow.status == 504, "\(slow)")
        #expect(slow.seconds < 2.5, "the 504 took \(slow.seconds) s")
        try await s.stop()
    }

    @Test("a change and a rollback while traffic flows: both data planes follow, no request on /mtls fails")
    func changeAndRollbackUnderTraffic() async throws {
        let s = try await ALBScenario.start()
        let admin = s.cp.admin()
        let before = try #require(try await admin.expect(200, "GET", "/status")["configuration_version"]?.intValue)

        let done = Flag()
        let pki = s.pki
        let caPath = s.server.caPath
        let url = s.albURL + "/mtls"
        // Batches of 25 keep-alive requests through nginx (one curl each) until the changes are done.
        let traffic = Task { () throws -> [String] in
            var statuses: [String] = []
            while !done.isSet || statuses.isEmpty {
                var args = ["-sS", "--noproxy", "*", "--max-time", "20", "--cacert", caPath,
                            "--cert", pki.path("client-chain"), "--key", pki.key("client"), "-w", "%{http_code}\\n"]
                for _ in 0..<25 { args += ["-o", "/dev/null", url] }
                let run = try await Subprocess.run(AdminHTTP.curl, args, timeout: .seconds(30))
                statuses += run.stdout.split(separator: "\n").map(String.init)
                if run.status != 0 { statuses.append("curl exit \(run.status): \(run.stderr)") }
            }
            return statuses
        }

        try await Task.sleep(for: .milliseconds(200))
        try await admin.expect(201, "POST", "/services/echo/routes", body: #"{"name": "v2", "paths": ["/v2"]}"#)
        try await s.converge()
        for index in 0..<2 {
            let added = try await s.direct(index, "/v2", header: nil)
            #expect(added.status == 200, "data plane \(index + 1): \(added)")
        }
        try await admin.expect(201, "POST", "/snapshots/\(before)/rollback")
        try await s.converge()
        for index in 0..<2 {
            let removed = try await s.direct(index, "/v2", header: nil)
            #expect(removed.status == 404, "data plane \(index + 1): \(removed)")
        }
        try await Task.sleep(for: .milliseconds(200))
        done.set()

        let statuses = try await traffic.value
        #expect(statuses.count >= 25)
        #expect(statuses.allSatisfy { $0 == "200" }, "\(statuses.filter { $0 != "200" })")
        try await s.stop()
    }

    /// Set once, read from another task.
    final class Flag: Sendable {
        private let value = Mutex(false)
        var isSet: Bool { self.value.withLock { $0 } }
        func set() { self.value.withLock { $0 = true } }
    }

    @Test("make demo: scripts/demo.sh runs its tour with DEMO_EXIT=1 and stops everything it started")
    func demoScript() async throws {
        let dir = try TempDir()
        let root = try Paths.packageRoot()
        let script = root.appendingPathComponent("scripts/demo.sh")
        let run = try await Subprocess.run(
            URL(fileURLWithPath: "/bin/bash"), [script.path],
            environment: Subprocess.environment([
                "DEMO_EXIT": "1", "PORTCULLIS_BIN": try Paths.binary().path, "PORTCULLIS_DEMO_DIR": dir.path("demo"),
            ]),
            workingDirectory: root, timeout: .seconds(120))
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains(" 0 failed"), "\(run.stdout)")
        #expect(!run.stdout.contains("✗"), "\(run.stdout)")
        // Its processes are gone: the PIDs it recorded are removed with them.
        #expect(!FileManager.default.fileExists(atPath: dir.path("demo/pids")))
        let up = try String(contentsOfFile: dir.path("demo/up.log"), encoding: .utf8)
        #expect(up.contains("[supervisor] stopping"), "\(up.suffix(2000))")
    }
}
