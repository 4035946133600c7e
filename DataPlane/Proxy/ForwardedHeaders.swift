package import NIOHTTP1

/// The header rewriting of a proxied exchange, as Kong (nginx) does it.
package enum ForwardedHeaders {
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
        FieldName(lowercased).isHopByHop
    }

    /// The lowercased header names listed in `Connection` that are not hop-by-hop anyway (`keep-alive`, `close`
    /// and the like are the common values and change nothing): the fields hop-by-hop for this message only.
    package static func connectionTokens(_ headers: HTTPHeaders) -> [String] {
        var tokens: [String] = []
        for (name, value) in headers where FieldName(name) == .connection {
            // Split on commas and trim spaces and tabs over the bytes (no Characters, no array of pieces).
            let utf8 = value.utf8
            var start = utf8.startIndex
            while start < utf8.endIndex {
                let end = utf8[start...].firstIndex(of: UInt8(ascii: ",")) ?? utf8.endIndex
                var lower = start
                var upper = end
                while lower < upper, utf8[lower] == 0x20 || utf8[lower] == 0x09 { lower = utf8.index(after: lower) }
                while upper > lower {
                    let last = utf8[utf8.index(before: upper)]
                    guard last == 0x20 || last == 0x09 else { break }
                    upper = utf8.index(before: upper)
                }
                start = end == utf8.endIndex ? end : utf8.index(after: end)
                guard lower < upper else { continue }
                let token = Substring(utf8[lower..<upper])
                let field = FieldName(token)
                if field.isHopByHop || token.utf8.elementsEqualLowercased("close") { continue }
                tokens.append(token.lowercased())
            }
        }
        return tokens
    }

    /// Facts about the downstream connection and request the forwarded headers are computed from.
    package struct Client {
        /// The client's address as text (`$remote_addr`).
        var address: String
        /// Whether the peer is inside `_trusted_ips`: its X-Forwarded-* and X-Real-IP pass through.
        var trusted: Bool
        /// The proxy listener's port (`$server_port`).
        var listenPort: Int
        /// The proxy listener's scheme (`$scheme`): `http`, or `https` on the TLS listener.
        var scheme = "http"

        package init(address: String, trusted: Bool, listenPort: Int, scheme: String = "http") {
            self.address = address
            self.trusted = trusted
            self.listenPort = listenPort
            self.scheme = scheme
        }
    }

    /// The request sent upstream: hop-by-hop, identity, `Expect` and forwarding headers removed from the client's
    /// request, then `Host`, `X-Real-IP`, `X-Forwarded-For|Proto|Host|Port|Path|Prefix` and `Via` set as Kong
    /// does. Always HTTP/1.1 (nginx's `proxy_http_version 1.1` in Kong's template).
    ///
    /// With `requestID`, the client's `X-Request-Id` fields are replaced by that one (the caller keeps a trusted
    /// peer's id in it); without, they pass as they are.
    ///
    /// - Returns: the head and whether the client asked for `100 Continue`.
    package static func upstreamRequest(
        _ head: HTTPRequestHead, uri: String, path: Substring, hostHeader: String, preserveHost: Bool, client: Client,
        requestID: String? = nil
    ) -> (HTTPRequestHead, expectContinue: Bool) {
        self.upstreamRequest(method: head.method, fieldCount: head.headers.count,
                             connectionTokens: self.connectionTokens(head.headers), uri: uri, path: path,
                             hostHeader: hostHeader, preserveHost: preserveHost, client: client,
                             requestID: requestID) { field in
            for (name, value) in head.headers { field(name, value) }
        }
    }

    /// The same, from the client's fields given one by one (the fast lane reads them from the bytes received,
    /// without a client `HTTPHeaders`).
    ///
    /// - Parameters:
    ///   - connectionTokens: ``connectionTokens(_:)`` of the client's fields.
    ///   - fields: calls its argument with each of the client's fields, in order.
    static func upstreamRequest(
        method: HTTPMethod, fieldCount: Int, connectionTokens named: [String], uri: String, path: Substring,
        hostHeader: String, preserveHost: Bool, client: Client, requestID: String?,
        fields: ((String, String) -> Void) -> Void
    ) -> (HTTPRequestHead, expectContinue: Bool) {
        var headers = HTTPHeaders()
        headers.reserveCapacity(fieldCount + 8)
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
        fields { name, value in
            switch FieldName(name) {
            case .host: clientHost = value
            case .expect: expectContinue = expectContinue || value.lowercased().contains("100-continue")
            case .transferEncoding: chunked = true
            case .contentLength: hasLength = true; headers.add(name: name, value: value)
            case .xForwardedFor: forwardedFor = forwardedFor.map { $0 + ", " + value } ?? value
            case .xRealIP: realIP = value
            case .xForwardedProto: forwardedProto = value
            case .xForwardedHost: forwardedHost = value
            case .xForwardedPort: forwardedPort = value
            case .xForwardedPath: forwardedPath = value
            case .xForwardedPrefix: forwardedPrefix = value
            case .via: via = via.map { $0 + ", " + value } ?? value
            case .identity, .connection, .hopByHop: return
            case .xRequestID:
                if requestID == nil { headers.add(name: name, value: value) }
            case .other:
                if !named.isEmpty, named.contains(where: { HeadScanner.equalIgnoringCase($0.utf8, name.utf8) }) {
                    return
                }
                headers.add(name: name, value: value)
            }
        }
        if chunked {
            // A chunked body stays chunked upstream (NIO re-encodes it); a Content-Length beside it is ignored
            // (RFC 9112 §6.3) and must not be forwarded.
            headers.remove(name: "content-length")
            headers.add(name: "transfer-encoding", value: "chunked")
        } else if !hasLength, method == .POST || method == .PUT || method == .PATCH {
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
        if let requestID { headers.add(name: "x-request-id", value: requestID) }
        return (HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers), expectContinue)
    }

    /// The response sent to the client: the upstream's status and end-to-end headers, `Via` appended, and the
    /// client connection's own keep-alive decision; with `requestID`, `X-Request-Id` is that id.
    package static func downstreamResponse(_ head: HTTPResponseHead, version: HTTPVersion, keepAlive: Bool,
                                           requestID: String? = nil) -> HTTPResponseHead
    {
        let named = self.connectionTokens(head.headers)
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 2)
        var via: String?
        for (name, value) in head.headers {
            let field = FieldName(name)
            if field == .via {
                via = via.map { $0 + ", " + value } ?? value
                continue
            }
            if field.isHopByHop || (!named.isEmpty && named.contains(name.lowercased())) { continue }
            if field == .xRequestID, requestID != nil { continue }
            headers.add(name: name, value: value)
        }
        headers.add(name: "via", value: via.map { $0 + ", " + Self.via } ?? Self.via)
        if let requestID { headers.add(name: "x-request-id", value: requestID) }
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

/// The header names the proxy treats specially, recognised case-insensitively from the name's bytes (no lowercased
/// copy is made per field).
package enum FieldName: Equatable {
    case host, expect, transferEncoding, contentLength, via, connection
    case xForwardedFor, xRealIP, xForwardedProto, xForwardedHost, xForwardedPort, xForwardedPath, xForwardedPrefix
    /// One of ``ForwardedHeaders/identity``.
    case identity
    /// `X-Request-Id`: replaced by the request's id (``RequestID``) when the proxy sets one.
    case xRequestID
    /// Hop-by-hop other than `Connection` and `Transfer-Encoding`: `Keep-Alive`, `TE`, `Trailer`, `Upgrade`,
    /// `Proxy-*`.
    case hopByHop
    case other

    package init<S: StringProtocol>(_ name: S) {
        self.init(utf8: name.utf8)
    }

    /// The same classification straight from a name's bytes (the fast lane's heads are never made into Strings).
    package init<C: Collection<UInt8>>(utf8: C) {
        func named(_ lower: StaticString) -> Bool { utf8.elementsEqualLowercased(lower) }
        switch utf8.count {
        case 2: self = named("te") ? .hopByHop : .other
        case 3: self = named("via") ? .via : .other
        case 4: self = named("host") ? .host : .other
        case 6: self = named("expect") ? .expect : .other
        case 7: self = named("upgrade") || named("trailer") ? .hopByHop : .other
        case 9: self = named("x-real-ip") ? .xRealIP : .other
        case 12: self = named("x-request-id") ? .xRequestID : .other
        case 10:
            self = named("connection") ? .connection : named("keep-alive") ? .hopByHop : .other
        case 13: self = named("x-consumer-id") ? .identity : .other
        case 14: self = named("content-length") ? .contentLength : .other
        case 15:
            self = named("x-forwarded-for") ? .xForwardedFor : .other
        case 16:
            self = named("x-forwarded-host") ? .xForwardedHost : named("x-forwarded-port") ? .xForwardedPort
                : named("x-forwarded-path") ? .xForwardedPath : named("x-client-cert-dn") ? .identity : .other
        case 17:
            self = named("transfer-encoding") ? .transferEncoding : named("x-forwarded-proto") ? .xForwardedProto
                : named("x-client-cert-san") ? .identity : .other
        case 18: self = named("x-forwarded-prefix") ? .xForwardedPrefix : .other
        case 19: self = named("x-consumer-username") ? .identity : .other
        case 20:
            self = named("x-consumer-custom-id") || named("x-anonymous-consumer") ? .identity : .other
        case 23: self = named("x-credential-identifier") ? .identity : .other
        default: self = .other
        }
        if self == .other, utf8.count > 6, utf8.prefix(6).elementsEqualLowercased("proxy-") { self = .hopByHop }
    }

    /// Hop-by-hop (RFC 9110 §7.6.1) plus `Proxy-*`: never forwarded.
    package var isHopByHop: Bool {
        switch self {
        case .connection, .transferEncoding, .hopByHop: true
        default: false
        }
    }
}

extension Sequence<UInt8> {
    /// Whether these bytes, ASCII letters lowercased, are `lower`'s.
    func elementsEqualLowercased(_ lower: StaticString) -> Bool {
        lower.withUTF8Buffer { expected in
            var i = 0
            for byte in self {
                guard i < expected.count else { return false }
                let folded = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
                guard folded == expected[i] else { return false }
                i += 1
            }
            return i == expected.count
        }
    }
}
