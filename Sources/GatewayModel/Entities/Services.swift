import Foundation

extension EntitySchema {
    /// Kong's `services`: where traffic goes.
    package static let services = EntitySchema(
        name: "services",
        singular: "service",
        endpointKey: "name",
        fields: [
            Typedefs.id, Typedefs.createdAt, Typedefs.updatedAt,
            Typedefs.name(),
            FieldSpec("retries", .integer, default: 5, between: 0...32767),
            FieldSpec("protocol", .string, required: true, default: "http", oneOf: Typedefs.protocols),
            FieldSpec("host", .string, required: true, check: { v in v.stringValue.flatMap(Typedefs.hostProblem) }),
            FieldSpec("port", .integer, required: true, default: 80, between: 0...65535),
            FieldSpec("path", .string, check: { v in
                guard let p = v.stringValue else { return nil }
                return p.hasPrefix("/") ? nil : "should start with: /"
            }),
            FieldSpec("connect_timeout", .integer, default: 60000, between: 1...2_147_483_646),
            FieldSpec("write_timeout", .integer, default: 60000, between: 1...2_147_483_646),
            FieldSpec("read_timeout", .integer, default: 60000, between: 1...2_147_483_646),
            Typedefs.tags,
            FieldSpec("tls_verify", .boolean),
            FieldSpec("tls_verify_depth", .integer, between: 0...64),
            FieldSpec("ca_certificates", .array(.element(.string, check: { v in
                UUIDString.isValid(v.stringValue ?? "") ? nil : "expected a valid UUID"
            }))),
            FieldSpec("enabled", .boolean, required: true, default: true),
        ],
        shorthands: ["url"],
        normalize: { entity, errors in
            guard let url = entity.removeValue(forKey: "url"), !url.isNull else { return }
            guard let text = url.stringValue else {
                errors.add("url", "expected a string")
                return
            }
            switch ServiceURL.parse(text) {
            case .success(let parsed):
                entity["protocol"] = .string(parsed.scheme)
                entity["host"] = .string(parsed.host)
                entity["port"] = .int(Int64(parsed.port))
                entity["path"] = parsed.path.map(JSON.string) ?? .null
            case .failure(let problem):
                errors.add("url", problem.message)
            }
        },
        check: { entity, context, errors in
            let proto = entity["protocol"]?.stringValue ?? "http"
            if ["tcp", "tls", "tls_passthrough", "udp", "grpc", "grpcs"].contains(proto), entity["path"]?.isNull == false {
                errors.add("path", "value must be null")
                errors.addEntity("'path' can only be set when 'protocol' is 'http', 'https', 'ws' or 'wss'")
            }
            if proto != "https" && proto != "wss" && proto != "tls" && proto != "grpcs" {
                for f in ["tls_verify", "tls_verify_depth"] where entity[f]?.isNull == false {
                    errors.add(f, "value must be null")
                }
            }
            if case .array(let cas)? = entity["ca_certificates"] {
                var missing: [Int: FieldError] = [:]
                for (i, ca) in cas.enumerated() {
                    if let id = ca.stringValue, !context.exists("ca_certificates", id) {
                        missing[i] = .message("ca_certificate '\(id)' does not exist")
                    }
                }
                if !missing.isEmpty { errors.add("ca_certificates", .elements(missing)) }
            }
        }
    )
}

/// A service `url` split into Kong's fields.
package struct ServiceURL: Sendable, Equatable {
    package var scheme: String
    package var host: String
    package var port: Int
    package var path: String?

    package struct Problem: Error, Equatable { package var message: String }

    package static func parse(_ text: String) -> Result<ServiceURL, Problem> {
        guard let schemeEnd = text.range(of: "://") else {
            return .failure(Problem(message: "missing scheme in url (expected e.g. http://host:port/path)"))
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        let defaults: [String: Int] = ["http": 80, "https": 443, "ws": 80, "wss": 443, "grpc": 80, "grpcs": 443,
                                       "tcp": 80, "tls": 443, "udp": 80, "tls_passthrough": 443]
        guard let defaultPort = defaults[scheme] else {
            return .failure(Problem(message: "unsupported scheme '\(scheme)' in url"))
        }
        var rest = text[schemeEnd.upperBound...]
        if let q = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<q] }
        var path: String? = nil
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        var host = String(rest)
        var port = defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return .failure(Problem(message: "invalid IPv6 host in url")) }
            let after = host[host.index(after: close)...]
            let inner = String(host[host.index(after: host.startIndex)..<close])
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (0...65535).contains(p) else {
                    return .failure(Problem(message: "invalid port in url"))
                }
                port = p
            } else if !after.isEmpty {
                return .failure(Problem(message: "invalid host in url"))
            }
            host = inner
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), (0...65535).contains(p) else {
                return .failure(Problem(message: "invalid port in url"))
            }
            port = p
            host = String(host[..<colon])
        }
        if host.isEmpty { return .failure(Problem(message: "missing host in url")) }
        if let problem = Typedefs.hostProblem(host) { return .failure(Problem(message: problem)) }
        return .success(ServiceURL(scheme: scheme, host: host, port: port, path: path))
    }
}
