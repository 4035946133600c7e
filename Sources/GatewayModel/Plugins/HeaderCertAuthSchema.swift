extension PluginSchema {
    /// `header-cert-auth`: Kong Enterprise's schema (field names, types, defaults, enums), plus `trusted_sources`,
    /// the CIDRs `secure_source` checks the connecting peer against, and `forward_client_cert`: the verified leaf
    /// sent upstream as RFC 9440 `Client-Cert` (the configured certificate header itself never goes upstream).
    package static let headerCertAuth = PluginSchema(
        name: "header-cert-auth",
        priority: 1009,
        protocols: ["grpc", "grpcs", "http", "https"],
        noConsumer: true,
        config: [
            FieldSpec("ca_certificates", .array(.element(.string, check: { v in
                UUIDString.isValid(v.stringValue ?? "") ? nil : "expected a valid UUID"
            })), required: true, lenMin: 1),
            FieldSpec("certificate_header_name", .string, required: true, check: { v in
                v.stringValue.flatMap(Typedefs.headerNameProblem)
            }),
            FieldSpec("certificate_header_format", .string, required: true, oneOf: HeaderCertAuthFormats.all),
            FieldSpec("secure_source", .boolean, required: true, default: true),
            FieldSpec("trusted_sources", .array(.element(.string, check: { v in
                v.stringValue.flatMap(Typedefs.cidrProblem)
            })), required: true, default: []),
            FieldSpec("allow_partial_chain", .boolean, required: true, default: false),
            FieldSpec("revocation_check_mode", .string, required: true, default: "IGNORE_CA_ERROR",
                      oneOf: ["SKIP", "IGNORE_CA_ERROR", "STRICT"]),
            FieldSpec("cert_cache_ttl", .number, required: true, default: 60000, between: 0...Int64(Int32.max)),
            FieldSpec("cache_ttl", .number, required: true, default: 60, between: 0...Int64(Int32.max)),
            FieldSpec("consumer_by", .array(.element(.string, oneOf: ["username", "custom_id"])),
                      default: ["username", "custom_id"]),
            FieldSpec("skip_consumer_lookup", .boolean, required: true, default: false),
            // Not required: a snapshot from a control plane that predates the field still validates.
            FieldSpec("forward_client_cert", .boolean, default: false),
            FieldSpec("anonymous", .string),
            FieldSpec("default_consumer", .string),
            FieldSpec("authenticated_group_by", .string, default: "CN", oneOf: ["CN", "DN"]),
            FieldSpec("http_timeout", .number, required: true, default: 30000, between: 0...Int64(Int32.max)),
            FieldSpec("http_proxy_host", .string, check: { v in v.stringValue.flatMap(Typedefs.hostProblem) }),
            FieldSpec("http_proxy_port", .integer, between: 0...65535),
            FieldSpec("https_proxy_host", .string, check: { v in v.stringValue.flatMap(Typedefs.hostProblem) }),
            FieldSpec("https_proxy_port", .integer, between: 0...65535),
            FieldSpec("ssl_verify", .boolean, required: true, default: true),
        ],
        check: { config, context, errors in
            if case .array(let ids)? = config["ca_certificates"] {
                var missing: [Int: FieldError] = [:]
                for (i, id) in ids.enumerated() {
                    if let id = id.stringValue, !context.exists("ca_certificates", id) {
                        missing[i] = .message("ca_certificate '\(id)' does not exist")
                    }
                }
                if !missing.isEmpty { errors["ca_certificates"] = .elements(missing) }
            }
            let secure = config["secure_source"]?.boolValue ?? true
            let ownSources = config["trusted_sources"]?.arrayValue ?? []
            if secure, ownSources.isEmpty, context.trustedIPs.isEmpty {
                errors["secure_source"] = .message(
                    "secure_source is true but no trusted sources are configured: set config.trusted_sources to the "
                        + "load balancer's addresses (CIDRs), start the control plane with --trusted-ips, "
                        + "or set secure_source to false"
                )
            }
            for (host, port) in [("http_proxy_host", "http_proxy_port"), ("https_proxy_host", "https_proxy_port")] {
                let hasHost = config[host]?.isNull == false
                let hasPort = config[port]?.isNull == false
                if hasHost != hasPort {
                    errors[hasHost ? port : host] = .message("required field missing (\(host) and \(port) go together)")
                }
            }
        }
    )
}

/// The header encodings header-cert-auth decodes: Kong's two, plus RFC 9440 (`Client-Cert` with the chain in
/// `Client-Cert-Chain`) and Envoy's `x-forwarded-client-cert`.
package enum HeaderCertAuthFormats {
    package static let all: [JSON] = ["base64_encoded", "url_encoded", "rfc9440", "xfcc"]
}
