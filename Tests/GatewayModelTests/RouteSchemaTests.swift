import GatewayModel
import Testing

@Suite("routes")
struct RouteSchemaTests {
    let mustSetHTTP = "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'http', 'https'"

    @Test func defaults() throws {
        let r = try Fixture.valid(.routes, ["paths": ["/echo"], "service": ["id": .string(Fixture.serviceID)]])
        #expect(r["protocols"] == ["http", "https"])
        #expect(r["https_redirect_status_code"] == 426)
        #expect(r["regex_priority"] == 0)
        #expect(r["strip_path"] == true)
        #expect(r["path_handling"] == "v0")
        #expect(r["preserve_host"] == false)
        #expect(r["request_buffering"] == true)
        #expect(r["response_buffering"] == true)
        #expect(r["service"] == ["id": .string(Fixture.serviceID)])
        for f in ["name", "methods", "hosts", "headers", "snis", "sources", "destinations", "tags"] {
            #expect(r[f] == .null, "\(f)")
        }
    }

    @Test func httpRouteNeedsAMatchingAttribute() throws {
        let e = try Fixture.invalid(.routes, ["name": "r"])
        #expect(e.message == "schema violation (\(self.mustSetHTTP))")
        #expect(e.fieldsJSON == ["@entity": [.string(self.mustSetHTTP)]])
        let httpOnly = try Fixture.invalid(.routes, ["protocols": ["http"], "paths": []])
        #expect(httpOnly.entity == ["must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'"])
        for attr: (String, JSON) in [("methods", ["GET"]), ("hosts", ["a.example"]), ("headers", ["x-a": ["1"]]),
                                     ("paths", ["/"]), ("snis", ["a.example"])] {
            _ = try Fixture.valid(.routes, [attr.0: attr.1])
        }
    }

    @Test(arguments: ["/", "/echo", "/a/b%20c", "~/users/\\d+$", "~/(?<name>[a-z]+)/x"])
    func validPaths(path: String) throws {
        _ = try Fixture.valid(.routes, ["paths": [.string(path)]])
    }

    @Test(arguments: [
        ("echo", "should start with: / (fixed path) or ~/ (regex path)"),
        ("~echo", "should start with: / (fixed path) or ~/ (regex path)"),
        ("~/users/(", "invalid regex: '/users/(' (PCRE returned: pcre2_compile() failed: missing closing parenthesis "
            + "in \"/users/(\" at \"\")"),
        ("~/[a-", "invalid regex: '/[a-' (PCRE returned: pcre2_compile() failed: missing terminating ] for character "
            + "class in \"/[a-\" at \"\")"),
        ("~/echo/**/broken", "invalid regex: '/echo/**/broken' (PCRE returned: pcre2_compile() failed: quantifier "
            + "does not follow a repeatable item in \"/echo/**/broken\" at \"*/broken\")"),
        ("/with space", "invalid path: '/with space' (control characters and spaces must be percent-encoded)"),
        ("/tab\there", "invalid path: '/tab\there' (control characters and spaces must be percent-encoded)"),
    ])
    func invalidPaths(path: String, message: String) throws {
        let e = try Fixture.invalid(.routes, ["paths": ["/ok", .string(path)]])
        #expect(e.fieldsJSON == ["paths": [nil, .string(message)]])
        #expect(e.message == "schema violation (paths[2]: \(message))")
    }

    @Test(arguments: ["example.com", "*.example.com", "example.*", "example.com:8000", "*.example.com:443",
                      "10.0.0.1", "10.0.0.1:80", "my_host", "[::1]", "[::1]:8080", "[2001:db8::1]:443"])
    func validHosts(host: String) throws {
        _ = try Fixture.valid(.routes, ["hosts": [.string(host)]])
    }

    @Test(arguments: [
        ("*.*.example.com", "invalid wildcard: only one wildcard must be specified"),
        ("a.*.example.com", "invalid wildcard: must be placed at leftmost or rightmost label"),
        ("*example.com", "invalid wildcard: must be placed at leftmost or rightmost label"),
        ("example.com:99999", "invalid port number"),
        ("example.com:http", "invalid port number"),
        ("bad host", "invalid hostname: bad host"),
        ("-x.example.com", "invalid hostname: -x.example.com"),
        ("*.-x.com", "invalid hostname: *.-x.com"),
        ("[::1]:99999", "invalid port number"),
        ("[not-an-ip]:80", "invalid hostname: [not-an-ip]:80"),
    ])
    func invalidHosts(host: String, message: String) throws {
        let e = try Fixture.invalid(.routes, ["hosts": [.string(host)]])
        #expect(e.message == "schema violation (hosts[1]: \(message))")
    }

    @Test func methods() throws {
        let r = try Fixture.valid(.routes, ["methods": ["GET", "POST", "GET", "PURGE"]])
        #expect(r["methods"] == ["GET", "POST", "PURGE"])
        let e = try Fixture.invalid(.routes, ["methods": ["GET", "get", "P0ST"]])
        #expect(e.fieldsJSON == ["methods": [nil, "invalid value: get", "invalid value: P0ST"]])
    }

    @Test func headers() throws {
        let r = try Fixture.valid(.routes, ["headers": ["x-version": ["v1", "v2"]]])
        #expect(r["headers"] == ["x-version": ["v1", "v2"]])
        let host = try Fixture.invalid(.routes, ["headers": ["Host": ["a.example"]], "paths": ["/"]])
        #expect(host.message
            == "schema violation (headers.Host: cannot contain 'host' header, which must be specified in the 'hosts' attribute)")
        let badName = try Fixture.invalid(.routes, ["headers": ["x bad": ["1"]], "paths": ["/"]])
        #expect(badName.fieldsJSON == ["headers": ["x bad": "bad header name 'x bad', allowed characters are A-Z, a-z, 0-9, '_', and '-'"]])
        let empty = try Fixture.invalid(.routes, ["headers": ["x-a": []], "paths": ["/"]])
        #expect(empty.message == "schema violation (headers.x-a: length must be at least 1)")
        let notArray = try Fixture.invalid(.routes, ["headers": ["x-a": "v"], "paths": ["/"]])
        #expect(notArray.message == "schema violation (headers.x-a: expected an array)")
    }

    @Test func protocolSubsetsAreMutuallyExclusive() throws {
        let message = "these sets are mutually exclusive: ('http', 'https'), ('tcp', 'tls', 'udp'), "
            + "('tls_passthrough'), ('grpc', 'grpcs'), ('ws', 'wss')"
        for protos: JSON in [["http", "tcp"], ["https", "grpcs"], ["ws", "http"], ["tls", "tls_passthrough"]] {
            let e = try Fixture.invalid(.routes, ["protocols": protos, "paths": ["/"], "snis": ["a.example"]])
            #expect(e.message == "schema violation (protocols: \(message))", "\(protos)")
        }
        let unknown = try Fixture.invalid(.routes, ["protocols": ["http", "ftp"], "paths": ["/"]])
        #expect(unknown.message == "schema violation (protocols[2]: expected one of: grpc, grpcs, http, https, tcp, "
            + "tls, tls_passthrough, udp, ws, wss)")
        let empty = try Fixture.invalid(.routes, ["protocols": [], "paths": ["/"]])
        #expect(empty.message == "schema violation (protocols: length must be at least 1)")
        for protos: JSON in [["grpc", "grpcs"], ["ws", "wss"], ["https"]] {
            _ = try Fixture.valid(.routes, ["protocols": protos, "paths": ["/"]])
        }
    }

    @Test func streamRoutes() throws {
        let e = try Fixture.invalid(.routes, ["protocols": ["tcp", "tls"]])
        #expect(e.entity == ["must set one of 'sources', 'destinations', 'snis' when 'protocols' is 'tcp', 'tls'"])
        let r = try Fixture.valid(.routes, ["protocols": ["tcp"],
                                            "sources": [["ip": "10.0.0.0/8"], ["ip": "10.0.0.0/8"], ["port": 22]],
                                            "destinations": [["ip": "::1", "port": 5432]]])
        #expect(r["sources"] == [["ip": "10.0.0.0/8", "port": nil], ["ip": nil, "port": 22]])
        let bad = try Fixture.invalid(.routes, ["protocols": ["udp"],
                                                "sources": [["ip": "10.0.0.0/40"], ["port": 70000], ["host": "x"]]])
        #expect(bad.fieldsJSON == ["sources": [
            ["ip": "invalid ip or cidr range: '10.0.0.0/40'"],
            ["port": "value should be between 0 and 65535"],
            ["host": "unknown field"],
        ]])
        _ = try Fixture.valid(.routes, ["protocols": ["tls_passthrough"], "snis": ["a.example"]])
    }

    @Test func sourcesAndDestinationsAreStreamOnly() throws {
        let e = try Fixture.invalid(.routes, ["paths": ["/"], "sources": [["ip": "10.0.0.1"]],
                                              "destinations": [["port": 80]]])
        let message = "can only be set when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or 'udp'"
        #expect(e.fieldsJSON == ["sources": .string(message), "destinations": .string(message)])
    }

    @Test func snis() throws {
        let r = try Fixture.valid(.routes, ["protocols": ["https"], "snis": ["a.example", "*.b.example"]])
        #expect(r["snis"] == ["a.example", "*.b.example"])
        let bad = try Fixture.invalid(.routes, ["protocols": ["https"],
                                                "snis": ["10.0.0.1", "a.example:443", "bad host", "a.*"]])
        #expect(bad.fieldsJSON == ["snis": ["must not be an IP", "must not have a port", "invalid SNI 'bad host'",
                                            "invalid SNI 'a.*'"]])
        let httpOnly = try Fixture.invalid(.routes, ["protocols": ["http"], "paths": ["/"], "snis": ["a.example"]])
        #expect(httpOnly.message == "schema violation (snis: 'snis' can only be set when 'protocols' is 'grpcs', "
            + "'https', 'tls', 'tls_passthrough', or 'wss')")
        let tcp = try Fixture.invalid(.routes, ["protocols": ["tcp"], "sources": [["ip": "10.0.0.1"]],
                                                "snis": ["a.example"]])
        #expect(tcp.messageAt("snis") != nil)
    }

    @Test func enumsAndService() throws {
        let e = try Fixture.invalid(.routes, ["paths": ["/"], "https_redirect_status_code": 303,
                                              "path_handling": "v2", "service": ["id": "x"]])
        #expect(e.fieldsJSON == [
            "https_redirect_status_code": "expected one of: 426, 301, 302, 307, 308",
            "path_handling": "expected one of: v0, v1",
            "service": ["id": "expected a valid UUID"],
        ])
    }

    @Test func formInputForArrays() throws {
        let r = try EntityWriter.prepare(.routes, input: ["paths": ["1": "/a", "2": "/b"], "methods": "GET",
                                                          "strip_path": "false"],
                                         existing: nil, kind: .create, coerceStrings: true,
                                         context: Fixture.context()).get()
        #expect(r["paths"] == ["/a", "/b"])
        #expect(r["methods"] == ["GET"])
        #expect(r["strip_path"] == false)
    }
}
