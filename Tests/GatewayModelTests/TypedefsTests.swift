import GatewayModel
import Testing

@Suite("Typedefs")
struct TypedefsTests {
    @Test(arguments: ["example.com", "a", "my_host.internal", "a-b.c-d.e", "127.0.0.1", "::1", "[::1]",
                      "2001:db8::1", "xn--bcher-kva.example", String(repeating: "a", count: 63) + ".com"])
    func validHosts(host: String) {
        #expect(Typedefs.hostProblem(host) == nil)
    }

    @Test(arguments: ["bad host", "host:80", "-lead.com", "trail-.com", "a..b", "example.com.", ".example.com",
                      "ex*ample.com", "über.com", String(repeating: "a", count: 64) + ".com", "[not-an-ip]"])
    func invalidHosts(host: String) {
        #expect(Typedefs.hostProblem(host) == "invalid hostname: \(host)")
    }

    @Test func hostEdgeCases() {
        #expect(Typedefs.hostProblem("") == "length must be at least 1")
        let long = Array(repeating: "abcdefghi", count: 26).joined(separator: ".")  // 259 characters
        #expect(Typedefs.hostProblem(long) == "invalid hostname: \(long)")
    }

    @Test func headerNames() {
        for ok in ["X-Amzn-Mtls-Clientcert", "x_client_cert", "ssl-client-cert", "A1!#$%&'*+.^_`|~"] {
            #expect(Typedefs.headerNameProblem(ok) == nil, "\(ok)")
        }
        #expect(Typedefs.headerNameProblem("") == "length must be at least 1")
        for bad in ["X Client", "x:y", "x(y)", "é", "a/b", "a\"b"] {
            #expect(Typedefs.headerNameProblem(bad)
                == "bad header name '\(bad)', allowed characters are A-Z, a-z, 0-9, '_', and '-'")
        }
    }

    @Test func cidrs() {
        for ok in ["10.0.0.0/8", "10.1.2.3", "0.0.0.0/0", "::/0", "::1/128", "2001:db8::/32", "fe80::1"] {
            #expect(Typedefs.cidrProblem(ok) == nil, "\(ok)")
        }
        for bad in ["10.0.0.0/33", "::1/129", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/", "10.0.0.0/8/9",
                    "10.0.0", "300.0.0.1", "example.com", "", "10.0.0.0/ 8"] {
            #expect(Typedefs.cidrProblem(bad) == "invalid ip or cidr range: '\(bad)'")
        }
    }

    @Test func tags() {
        let tags = EntitySchema.consumers.field("tags")!
        #expect(SchemaValidator.process(["a", "b c", "ünïcode", "a"], tags, coerceStrings: false) == (["a", "b c", "ünïcode"], nil))
        for bad in ["a,b", "a/b", "tab\there", "\u{7f}"] {
            #expect(SchemaValidator.process([.string(bad)], tags, coerceStrings: false).1 == .elements([
                0: .message("invalid tag '\(bad)': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"),
            ]))
        }
    }

    @Test func names() {
        let name = Typedefs.name()
        for ok in ["svc", "a.b-c_d~e", "ünïcode-名前", String(repeating: "n", count: 128)] {
            #expect(SchemaValidator.process(.string(ok), name, coerceStrings: false).1 == nil, "\(ok)")
        }
        for bad in ["a b", "a/b", "a:b", "a@b"] {
            #expect(SchemaValidator.process(.string(bad), name, coerceStrings: false).1 == .message(
                "invalid value '\(bad)': the only accepted ascii characters are alphanumerics or ., -, _, and ~"))
        }
        #expect(SchemaValidator.process(.string(String(repeating: "n", count: 129)), name, coerceStrings: false).1
            == .message("length must be at most 128"))
    }

    @Test func idField() {
        #expect(SchemaValidator.process(.string(Fixture.serviceID), Typedefs.id, coerceStrings: false).1 == nil)
        #expect(SchemaValidator.process("7C3F0A4E-0000-4000-8000-000000000001", Typedefs.id, coerceStrings: false).1 == nil)
        for bad in ["", "1234", "7c3f0a4e00004000800000000000000001xx", "7c3f0a4e-0000-4000-8000-00000000000g"] {
            #expect(SchemaValidator.process(.string(bad), Typedefs.id, coerceStrings: false).1 != nil, "\(bad)")
        }
    }
}

@Suite("IP addresses and CIDR blocks")
struct CIDRTests {
    func ip(_ s: String) -> IPAddress { IPAddress.parse(s)! }

    @Test func parsesAddresses() {
        #expect(IPAddress.parse("10.1.2.3")?.bytes == [10, 1, 2, 3])
        #expect(IPAddress.parse("::1")?.bytes == Array(repeating: 0, count: 15) + [1])
        #expect(IPAddress.parse("2001:db8::ff")?.bytes.count == 16)
        #expect(IPAddress.parse("1.2.3") == nil)
        #expect(IPAddress.parse("host") == nil)
        #expect(IPAddress.parse("[::1]") == nil)
    }

    @Test func ipv4() throws {
        let net = try #require(CIDR.parse("10.0.0.0/8"))
        #expect(net.prefix == 8)
        #expect(net.contains(self.ip("10.0.0.0")))
        #expect(net.contains(self.ip("10.255.255.255")))
        #expect(!net.contains(self.ip("11.0.0.0")))
        #expect(!net.contains(self.ip("9.255.255.255")))

        let odd = try #require(CIDR.parse("192.168.0.0/23"))
        #expect(odd.contains(self.ip("192.168.1.255")))
        #expect(!odd.contains(self.ip("192.168.2.0")))

        let host = try #require(CIDR.parse("127.0.0.1"))
        #expect(host.prefix == 32)
        #expect(host.contains(self.ip("127.0.0.1")))
        #expect(!host.contains(self.ip("127.0.0.2")))

        // Host bits in the network address are ignored.
        let sloppy = try #require(CIDR.parse("10.9.9.9/8"))
        #expect(sloppy.contains(self.ip("10.1.1.1")))

        let all = try #require(CIDR.parse("0.0.0.0/0"))
        #expect(all.contains(self.ip("203.0.113.7")))
    }

    @Test func ipv6() throws {
        let net = try #require(CIDR.parse("2001:db8::/32"))
        #expect(net.contains(self.ip("2001:db8::1")))
        #expect(net.contains(self.ip("2001:db8:ffff:ffff::1")))
        #expect(!net.contains(self.ip("2001:db9::1")))

        let odd = try #require(CIDR.parse("fd00::/7"))
        #expect(odd.contains(self.ip("fc00::1")))
        #expect(odd.contains(self.ip("fdff::1")))
        #expect(!odd.contains(self.ip("fe00::1")))

        let loopback = try #require(CIDR.parse("::1/128"))
        #expect(loopback.contains(self.ip("::1")))
        #expect(!loopback.contains(self.ip("::2")))

        let all = try #require(CIDR.parse("::/0"))
        #expect(all.contains(self.ip("fe80::1")))
    }

    @Test func familiesNeverMatchEachOther() throws {
        #expect(!(try #require(CIDR.parse("0.0.0.0/0"))).contains(self.ip("::1")))
        #expect(!(try #require(CIDR.parse("::/0"))).contains(self.ip("127.0.0.1")))
        // An IPv4-mapped IPv6 address (a v4 peer on a dual-stack socket) matches the v4 block it maps to.
        #expect((try #require(CIDR.parse("10.0.0.0/8"))).contains(self.ip("::ffff:10.0.0.1")))
        #expect(!(try #require(CIDR.parse("10.0.0.0/8"))).contains(self.ip("::ffff:11.0.0.1")))
        #expect(!(try #require(CIDR.parse("::/0"))).contains(self.ip("10.0.0.1")))
    }
}
