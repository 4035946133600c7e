import DataPlane
import NIOHTTP1
import Testing

/// The header rewriting of a proxied exchange, field by field.
@Suite struct ForwardedHeadersTests {
    @Test("field names are recognised whatever their case; other names, prefixes and near misses are not")
    func fieldNames() {
        #expect(FieldName("Host") == .host)
        #expect(FieldName("TRANSFER-ENCODING") == .transferEncoding)
        #expect(FieldName("x-Forwarded-Proto") == .xForwardedProto)
        #expect(FieldName("X-Forwarded-Prefix") == .xForwardedPrefix)
        #expect(FieldName("X-Consumer-Username") == .identity)
        #expect(FieldName("x-client-cert-san") == .identity)
        #expect(FieldName("X-Credential-Identifier") == .identity)
        #expect(FieldName("Proxy-Authorization") == .hopByHop)
        #expect(FieldName("Keep-Alive") == .hopByHop)
        #expect(FieldName("TE") == .hopByHop)
        #expect(FieldName("Connection") == .connection)
        #expect(FieldName("Proxy-") == .other)
        #expect(FieldName("Hosts") == .other)
        #expect(FieldName("X-Consumer-IDs") == .other)
        #expect(FieldName("x-forwarded-fo") == .other)
        #expect(FieldName("Content-Type") == .other)
        #expect(FieldName("Véa") == .other)
    }

    @Test("upstream request: hop-by-hop, Connection-named and identity fields go; forwarding fields are computed")
    func upstreamRequest() {
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/in", headers: [
            "HOST": "api.example.com:8443", "Connection": "keep-alive, X-Secret , close", "x-secret": "s",
            "Keep-Alive": "timeout=5", "Proxy-Authorization": "Basic x", "X-Consumer-Username": "forged",
            "X-Client-Cert-DN": "/CN=forged", "Accept": "*/*", "X-Forwarded-For": "10.0.0.1", "Via": "1.1 alb",
            "Expect": "100-Continue", "Upgrade": "websocket",
        ])
        let client = ForwardedHeaders.Client(address: "127.0.0.2", trusted: false, listenPort: 8000)
        let (out, expect) = ForwardedHeaders.upstreamRequest(
            head, uri: "/up", path: "/in", hostHeader: "backend:80", preserveHost: false, client: client)
        #expect(expect)
        #expect(out.uri == "/up")
        let names = out.headers.map { $0.name.lowercased() }
        for gone in ["connection", "x-secret", "keep-alive", "proxy-authorization", "x-consumer-username",
                     "x-client-cert-dn", "expect", "upgrade"]
        {
            #expect(!names.contains(gone), "\(gone) must not be forwarded")
        }
        #expect(out.headers["accept"] == ["*/*"])
        #expect(out.headers["host"] == ["backend:80"])
        #expect(out.headers["x-forwarded-for"] == ["10.0.0.1, 127.0.0.2"])
        #expect(out.headers["x-forwarded-host"] == ["api.example.com"])
        #expect(out.headers["x-forwarded-port"] == ["8000"])
        #expect(out.headers["via"] == ["1.1 alb, 1.1 portcullis"])
        #expect(ForwardedHeaders.connectionTokens(head.headers) == ["x-secret"])
    }

    @Test("downstream response: hop-by-hop and Connection-named fields go, Via is appended, keep-alive decided here")
    func downstreamResponse() {
        let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: [
            "Connection": "keep-alive, X-Hop", "X-Hop": "1", "Keep-Alive": "timeout=5", "Content-Length": "2",
            "VIA": "1.0 origin", "X-Consumer-ID": "upstream-may-say-this",
        ])
        let out = ForwardedHeaders.downstreamResponse(head, version: .http1_0, keepAlive: true)
        #expect(out.headers.map(\.name).sorted() == ["Content-Length", "X-Consumer-ID", "connection", "via"])
        #expect(out.headers["via"] == ["1.0 origin, 1.1 portcullis"])
        #expect(out.headers["connection"] == ["keep-alive"])
        let closing = ForwardedHeaders.downstreamResponse(head, version: .http1_1, keepAlive: false)
        #expect(closing.headers["connection"] == ["close"])
    }
}
