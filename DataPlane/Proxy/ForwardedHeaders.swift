import NIOHTTP1

/// The header rewriting of a proxied exchange, as Kong (nginx) does it.
enum ForwardedHeaders {
    /// `Via` added to requests and responses (RFC 9110 §7.6.3; Kong sends `1.1 kong/<version>`).
    static let via = "1.1 portcullis"

    /// Identity headers only the gateway may set: a client sending them could impersonate a consumer, so they are
    /// removed before anything else looks at the request (DESIGN §7).
    static let identity: Set<String> = [
        "x-consumer-id", "x-consumer-username", "x-consumer-custom-id", "x-credential-identifier",
        "x-anonymous-consumer", "x-client-cert-dn", "x-client-cert-san",
    ]

    /// Hop-by-hop headers (RFC 9110 §7.6.1) plus `Proxy-*`: they describe one connection, never the next one.
    static func isHopByHop(_ lowercased: String) -> Bool {
        switch lowercased {
        case "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade": true
        default: lowercased.hasPrefix("proxy-")
        }
    }

    /// The lowercased header names listed in `Connection`, which are hop-by-hop for this message only.
    static func connectionTokens(_ headers: HTTPHeaders) -> [String] {
        // The canonical form splits comma-separated values and trims them.
        headers[canonicalForm: "connection"].compactMap { $0.isEmpty ? nil : $0.lowercased() }
    }

    /// Facts about the downstream connection and request the forwarded headers are computed from.
    struct Client {
        /// The client's address as text (`$remote_addr`).
        var address: String
        /// Whether the peer is inside `_trusted_ips`: its X-Forwarded-* and X-Real-IP pass through.
        var trusted: Bool
        /// The proxy listener's port (`$server_port`).
        var listenPort: Int
        /// The proxy listener's scheme (`$scheme`): `http`, or `https` on the TLS listener.
        var scheme = "http"
    }

    /// The request sent upstream: hop-by-hop, identity, `Expect` and forwarding headers removed from the client's
    /// request, then `Host`, `X-Real-IP`, `X-Forwarded-For|Proto|Host|Port|Path|Prefix` and `Via` set as Kong
    /// does. Always HTTP/1.1 (nginx's `proxy_http_version 1.1` in Kong's template).
    ///
    /// - Returns: the head and whether the client asked for `100 Continue`.
    static func upstreamRequest(
        _ head: HTTPRequestHead, uri: String, path: Substring, hostHeader: String, preserveHost: Bool, client: Client
    ) -> (HTTPRequestHead, expectContinue: Bool) {
        let named = self.connectionTokens(head.headers)
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 8)
        var clientHost: String?
        var expectContinue = false
        var chunked = false
        var hasLength = false
        var forwardedFor: String?
        var realIP: String?
        var forwardedProto: String?
        var forwardedHost: String?
        var forwardedPort: String?
        var forwardedPath: String?
        var forwardedPrefix: String?
        var via: String?
        for (name, value) in head.headers {
            let lower = name.lowercased()
            switch lower {
            case "host": clientHost = value
            case "expect": expectContinue = expectContinue || value.lowercased().contains("100-continue")
            case "transfer-encoding": chunked = true
            case "content-length": hasLength = true; headers.add(name: name, value: value)
            case "x-forwarded-for": forwardedFor = forwardedFor.map { $0 + ", " + value } ?? value
            case "x-real-ip": realIP = value
            case "x-forwarded-proto": forwardedProto = value
            case "x-forwarded-host": forwardedHost = value
            case "x-forwarded-port": forwardedPort = value
            case "x-forwarded-path": forwardedPath = value
            case "x-forwarded-prefix": forwardedPrefix = value
            case "via": via = via.map { $0 + ", " + value } ?? value
            default:
                if self.identity.contains(lower) || self.isHopByHop(lower) || named.contains(lower) { continue }
                headers.add(name: name, value: value)
            }
        }
        if chunked {
            // A chunked body stays chunked upstream (NIO re-encodes it); a Content-Length beside it is ignored
            // (RFC 9112 §6.3) and must not be forwarded.
            headers.remove(name: "content-length")
            headers.add(name: "transfer-encoding", value: "chunked")
        } else if !hasLength, head.method == .POST || head.method == .PUT || head.method == .PATCH {
            // No body framing at all means no body: say so rather than let the encoder pick chunked.
            headers.add(name: "content-length", value: "0")
        }

        headers.add(name: "host", value: preserveHost ? (clientHost ?? hostHeader) : hostHeader)
        let trusted = client.trusted
        // nginx's realip module: a trusted peer's X-Real-IP is the client address.
        let remote = trusted ? (realIP ?? client.address) : client.address
        headers.add(name: "x-real-ip", value: remote)
        // $proxy_add_x_forwarded_for: the chain is always appended to, whoever sent it.
        headers.add(name: "x-forwarded-for", value: forwardedFor.map { $0 + ", " + remote } ?? remote)
        let host = Self.bareHost(clientHost) ?? ""
        headers.add(name: "x-forwarded-proto", value: trusted ? (forwardedProto ?? client.scheme) : client.scheme)
        headers.add(name: "x-forwarded-host", value: trusted ? (forwardedHost ?? host) : host)
        headers.add(name: "x-forwarded-port", value: trusted ? (forwardedPort ?? String(client.listenPort))
                                                              : String(client.listenPort))
        headers.add(name: "x-forwarded-path", value: trusted ? (forwardedPath ?? String(path)) : String(path))
        if trusted, let forwardedPrefix { headers.add(name: "x-forwarded-prefix", value: forwardedPrefix) }
        headers.add(name: "via", value: via.map { $0 + ", " + Self.via } ?? Self.via)
        return (HTTPRequestHead(version: .http1_1, method: head.method, uri: uri, headers: headers), expectContinue)
    }

    /// The response sent to the client: the upstream's status and end-to-end headers, `Via` appended, and the
    /// client connection's own keep-alive decision.
    static func downstreamResponse(_ head: HTTPResponseHead, version: HTTPVersion, keepAlive: Bool) -> HTTPResponseHead {
        let named = self.connectionTokens(head.headers)
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 2)
        var via: String?
        for (name, value) in head.headers {
            let lower = name.lowercased()
            if lower == "via" {
                via = via.map { $0 + ", " + value } ?? value
                continue
            }
            if self.isHopByHop(lower) || named.contains(lower) { continue }
            headers.add(name: name, value: value)
        }
        headers.add(name: "via", value: via.map { $0 + ", " + Self.via } ?? Self.via)
        if !keepAlive {
            headers.add(name: "connection", value: "close")
        } else if version.minor == 0 {
            headers.add(name: "connection", value: "keep-alive")
        }
        return HTTPResponseHead(version: version, status: head.status, headers: headers)
    }

    /// nginx's `$host`: the Host header's name, lowercased, without a port.
    static func bareHost(_ host: String?) -> String? {
        guard let host, !host.isEmpty else { return nil }
        let h = host.lowercased()
        if h.hasPrefix("["), let close = h.firstIndex(of: "]") { return String(h[...close]) }
        if let colon = h.lastIndex(of: ":") { return String(h[..<colon]) }
        return h
    }
}
