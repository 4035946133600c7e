import Foundation

/// Reusable field definitions and value checks, after Kong's `typedefs`.
package enum Typedefs {
    package static let id = FieldSpec("id", .string, generated: true, check: { v in
        UUIDString.isValid(v.stringValue ?? "") ? nil : "expected a valid UUID"
    })
    package static let createdAt = FieldSpec("created_at", .integer, generated: true)
    package static let updatedAt = FieldSpec("updated_at", .integer, generated: true)

    package static let tags = FieldSpec(
        "tags", .set(.element(.string, check: { v in
            guard let s = v.stringValue else { return nil }
            return Typedefs.isValidTag(s)
                ? nil : "invalid tag '\(s)': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"
        }))
    )

    package static func name(_ field: String = "name") -> FieldSpec {
        FieldSpec(field, .string, lenMax: 128, check: { v in
            guard let s = v.stringValue else { return nil }
            return Typedefs.isValidUTF8Name(s)
                ? nil
                : "invalid value '\(s)': the only accepted ascii characters are alphanumerics or ., -, _, and ~"
        })
    }

    package static func foreign(_ field: String, _ reference: String, required: Bool = false) -> FieldSpec {
        FieldSpec(field, .foreign(reference: reference), required: required)
    }

    package static let protocols: [JSON] = [
        "grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp", "ws", "wss",
    ]
    package static let httpProtocols: [JSON] = ["grpc", "grpcs", "http", "https"]

    static func isValidTag(_ s: String) -> Bool {
        for u in s.unicodeScalars {
            if u.value < 0x20 || u.value == 0x7F || u == "," || u == "/" { return false }
        }
        return true
    }

    static func isValidUTF8Name(_ s: String) -> Bool {
        for u in s.unicodeScalars {
            if u.value >= 0x80 { continue }
            // The only ASCII letters and numbers are these: decided without building a Character.
            if (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") || (u >= "0" && u <= "9") || u == "." || u == "-"
                || u == "_" || u == "~"
            {
                continue
            }
            let c = Character(u)
            if c.isLetter || c.isNumber || c == "." || c == "-" || c == "_" || c == "~" { continue }
            return false
        }
        return true
    }

    /// A DNS name or an IP literal, no port (Kong's `typedefs.host`).
    package static func hostProblem(_ host: String) -> String? {
        if host.isEmpty { return "length must be at least 1" }
        if IPAddress.parse(host) != nil { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]"), IPAddress.parse(String(host.dropFirst().dropLast())) != nil {
            return nil
        }
        guard host.utf8.count <= 253 else { return "invalid hostname: \(host)" }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard !label.isEmpty, label.utf8.count <= 63 else { return "invalid hostname: \(host)" }
            for c in label.unicodeScalars {
                let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_"
                if !ok { return "invalid hostname: \(host)" }
            }
            if label.hasPrefix("-") || label.hasSuffix("-") { return "invalid hostname: \(host)" }
        }
        return nil
    }

    /// An HTTP header name: an RFC 9110 token.
    package static func headerNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "length must be at least 1" }
        for c in name.unicodeScalars {
            let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9")
                || "!#$%&'*+-.^_`|~".unicodeScalars.contains(c)
            if !ok { return "bad header name '\(name)', allowed characters are A-Z, a-z, 0-9, '_', and '-'" }
        }
        return nil
    }

    /// A CIDR block or single address, IPv4 or IPv6.
    package static func cidrProblem(_ text: String) -> String? {
        CIDR.parse(text) == nil ? "invalid ip or cidr range: '\(text)'" : nil
    }
}

/// An IPv4 or IPv6 address in network byte order.
package struct IPAddress: Sendable, Hashable {
    package var bytes: [UInt8]

    package static func parse(_ text: String) -> IPAddress? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return IPAddress(bytes: withUnsafeBytes(of: v4.s_addr) { Array($0) })
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return IPAddress(bytes: withUnsafeBytes(of: v6) { Array($0) })
        }
        return nil
    }
}

/// An address block such as `10.0.0.0/8` or `::1/128`; a bare address is a full-length block.
package struct CIDR: Sendable, Hashable {
    package var network: IPAddress
    package var prefix: Int

    package static func parse(_ text: String) -> CIDR? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let addr = IPAddress.parse(String(parts[0])) else { return nil }
        let maxPrefix = addr.bytes.count * 8
        var prefix = maxPrefix
        if parts.count == 2 {
            guard let p = Int(parts[1]), p >= 0, p <= maxPrefix, !parts[1].hasPrefix("+") else { return nil }
            prefix = p
        }
        return CIDR(network: addr, prefix: prefix)
    }

    package func contains(_ address: IPAddress) -> Bool {
        var address = address
        // A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6 (::ffff:a.b.c.d).
        if address.bytes.count == 16, self.network.bytes.count == 4,
            address.bytes[0..<10].allSatisfy({ $0 == 0 }), address.bytes[10] == 0xFF, address.bytes[11] == 0xFF
        {
            address = IPAddress(bytes: Array(address.bytes[12..<16]))
        }
        guard address.bytes.count == self.network.bytes.count else { return false }
        var remaining = self.prefix
        for i in 0..<address.bytes.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if address.bytes[i] & mask != self.network.bytes[i] & mask { return false }
            remaining -= bits
        }
        return true
    }
}
