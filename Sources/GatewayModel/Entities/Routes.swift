import Foundation

extension EntitySchema {
    /// Kong's `routes` (traditional_compatible flavour): how requests are matched to services.
    package static let routes = EntitySchema(
        name: "routes",
        singular: "route",
        endpointKey: "name",
        fields: [
            Typedefs.id, Typedefs.createdAt, Typedefs.updatedAt,
            Typedefs.name(),
            FieldSpec("protocols", .set(.element(.string, oneOf: Typedefs.protocols)), required: true,
                      default: ["http", "https"], lenMin: 1),
            FieldSpec("methods", .set(.element(.string, check: RouteChecks.method))),
            FieldSpec("hosts", .array(.element(.string, check: RouteChecks.host))),
            FieldSpec("paths", .array(.element(.string, check: RouteChecks.path))),
            FieldSpec("headers", .map(values: .element(.array(.element(.string)), lenMin: 1))),
            FieldSpec("https_redirect_status_code", .integer, required: true, default: 426,
                      oneOf: [426, 301, 302, 307, 308]),
            FieldSpec("regex_priority", .integer, default: 0),
            FieldSpec("strip_path", .boolean, required: true, default: true),
            FieldSpec("path_handling", .string, default: "v0", oneOf: ["v0", "v1"]),
            FieldSpec("preserve_host", .boolean, required: true, default: false),
            FieldSpec("request_buffering", .boolean, required: true, default: true),
            FieldSpec("response_buffering", .boolean, required: true, default: true),
            FieldSpec("snis", .set(.element(.string, check: { v in v.stringValue.flatMap(RouteChecks.sniProblem) }))),
            FieldSpec("sources", .set(RouteChecks.endpoint)),
            FieldSpec("destinations", .set(RouteChecks.endpoint)),
            Typedefs.tags,
            Typedefs.foreign("service", "services"),
        ],
        check: RouteChecks.entity
    )
}

enum RouteChecks {
    static let endpoint = FieldSpec.element(.record([
        FieldSpec("ip", .string, check: { v in v.stringValue.flatMap(Typedefs.cidrProblem) }),
        FieldSpec("port", .integer, between: 0...65535),
    ]))

    static let method: @Sendable (JSON) -> String? = { v in
        guard let s = v.stringValue else { return nil }
        return s.unicodeScalars.allSatisfy({ $0 >= "A" && $0 <= "Z" }) ? nil : "invalid value: \(s)"
    }

    static let host: @Sendable (JSON) -> String? = { v in
        guard var s = v.stringValue else { return nil }
        // An optional port, as Kong allows (`example.com:8000`, `[::1]:8000`).
        if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
            let after = s[s.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (0...65535).contains(p) else {
                    return "invalid port number"
                }
            }
            return IPAddress.parse(String(s[s.index(after: s.startIndex)..<close])) == nil
                ? "invalid hostname: \(v.stringValue ?? "")" : nil
        }
        if !s.hasPrefix("["), let colon = s.lastIndex(of: ":"), s.filter({ $0 == ":" }).count == 1 {
            guard let p = Int(s[s.index(after: colon)...]), (0...65535).contains(p) else { return "invalid port number" }
            s = String(s[..<colon])
        }
        let stars = s.filter { $0 == "*" }.count
        if stars > 1 { return "invalid wildcard: only one wildcard must be specified" }
        if stars == 1 {
            if s.hasPrefix("*.") {
                s = "x" + s.dropFirst()
            } else if s.hasSuffix(".*") {
                s = s.dropLast() + "x"
            } else {
                return "invalid wildcard: must be placed at leftmost or rightmost label"
            }
        }
        return Typedefs.hostProblem(s).map { _ in "invalid hostname: \(v.stringValue ?? "")" }
    }

    static let path: @Sendable (JSON) -> String? = { v in
        guard let s = v.stringValue else { return nil }
        if s.hasPrefix("~") {
            let pattern = String(s.dropFirst())
            guard pattern.hasPrefix("/") else { return "should start with: / (fixed path) or ~/ (regex path)" }
            // PCRE, as Kong's router; the data plane compiles it with the same engine.
            do throws(PCRERegex.CompileError) {
                _ = try PCRERegex(pattern)
            } catch {
                // Kong's wording: the pattern, then what PCRE said and where.
                let rest = String(decoding: pattern.utf8.dropFirst(error.offset), as: UTF8.self)
                return "invalid regex: '\(pattern)' (PCRE returned: pcre2_compile() failed: \(error.message) in "
                    + "\"\(pattern)\" at \"\(rest)\")"
            }
            return nil
        }
        guard s.hasPrefix("/") else { return "should start with: / (fixed path) or ~/ (regex path)" }
        for u in s.unicodeScalars where u.value <= 0x20 || u.value == 0x7F {
            return "invalid path: '\(s)' (control characters and spaces must be percent-encoded)"
        }
        return nil
    }

    static func sniProblem(_ s: String) -> String? {
        if IPAddress.parse(s) != nil { return "must not be an IP" }
        if s.contains(":") { return "must not have a port" }
        var host = s
        if host.hasPrefix("*.") { host = "x" + host.dropFirst() }
        return Typedefs.hostProblem(host).map { _ in "invalid SNI '\(s)'" }
    }

    static let subsets: [Set<String>] = [["http", "https"], ["tcp", "tls", "udp"], ["tls_passthrough"],
                                         ["grpc", "grpcs"], ["ws", "wss"]]

    /// Protocols whose routes match on HTTP attributes.
    static let httpFamily: Set<String> = ["http", "https", "grpc", "grpcs", "ws", "wss"]
    /// Protocols on which a route may name SNIs.
    static let tlsFamily: Set<String> = ["https", "grpcs", "tls", "tls_passthrough", "wss"]
    /// What an HTTP route must set one of (in the order messages list them).
    static let httpAttributes = ["methods", "hosts", "headers", "paths"]
    static let httpAttributesWithSNIs = ["methods", "hosts", "headers", "paths", "snis"]
    /// What only stream routes may set.
    static let streamAttributes = ["sources", "destinations"]
    static let streamAttributesWithSNIs = ["sources", "destinations", "snis"]

    static let entity: @Sendable (JSONObject, ValidationContext, inout ValidationErrors) -> Void = { route, _, errors in
        // The protocols are the strings listed (as a set): asked about in place, the set built only for messages.
        let listed = route["protocols"]?.arrayValue ?? []
        func allIn(_ family: Set<String>) -> Bool { listed.allSatisfy { $0.stringValue.map(family.contains) ?? true } }
        func has(_ p: String) -> Bool { listed.contains { $0.stringValue == p } }
        func sortedProtocols() -> String {
            Set(listed.compactMap(\.stringValue)).sorted().map { "'\($0)'" }.joined(separator: ", ")
        }
        if !RouteChecks.subsets.contains(where: allIn) {
            errors.add("protocols", "these sets are mutually exclusive: ('http', 'https'), ('tcp', 'tls', 'udp'), " +
                "('tls_passthrough'), ('grpc', 'grpcs'), ('ws', 'wss')")
            return
        }
        func nonEmpty(_ f: String) -> Bool {
            switch route[f] {
            case .array(let a)?: return !a.isEmpty
            case .object(let o)?: return !o.isEmpty
            default: return false
            }
        }
        if allIn(RouteChecks.httpFamily) {
            let candidates = has("https") || has("grpcs") || has("wss")
                ? RouteChecks.httpAttributesWithSNIs : RouteChecks.httpAttributes
            if !candidates.contains(where: nonEmpty) {
                let list = candidates.map { "'\($0)'" }.joined(separator: ", ")
                errors.addEntity("must set one of \(list) when 'protocols' is \(sortedProtocols())")
            }
            for f in RouteChecks.streamAttributes where nonEmpty(f) {
                errors.add(f, "can only be set when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or 'udp'")
            }
        } else if !RouteChecks.streamAttributesWithSNIs.contains(where: nonEmpty) {
            errors.addEntity("must set one of 'sources', 'destinations', 'snis' when 'protocols' is " + sortedProtocols())
        }
        if nonEmpty("snis"), !listed.contains(where: { $0.stringValue.map(RouteChecks.tlsFamily.contains) ?? false }) {
            errors.add("snis", "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls', 'tls_passthrough', or 'wss'")
        }
        if case .object(let headers)? = route["headers"] {
            var bad: [String: FieldError] = [:]
            for name in headers.keys {
                if name.lowercased() == "host" {
                    bad[name] = .message("cannot contain 'host' header, which must be specified in the 'hosts' attribute")
                } else if let p = Typedefs.headerNameProblem(name) {
                    bad[name] = .message(p)
                }
            }
            if !bad.isEmpty { errors.add("headers", .fields(bad)) }
        }
    }
}
