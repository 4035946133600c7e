import GatewayModel
import NIOCore
import NIOSSL

/// How an `https` service is reached: Kong's `tls_verify`, `tls_verify_depth` and `ca_certificates`, and the SNI
/// name. Part of the pool key, so connections made with different settings never serve each other's requests.
///
/// Kong's semantics (`kong/runloop/upstream_ssl.lua`): only `tls_verify: true` turns verification on; null or
/// false leave nginx's `proxy_ssl_verify` at its default, off. With verification on, the trust roots are the
/// listed `ca_certificates`, or, when none is listed, the system store (Kong's `lua_ssl_trusted_certificate`
/// defaults to `system`). The name checked and sent as SNI is the service host (not for an IP literal: SNI cannot
/// carry one, and the certificate is then checked against the address).
struct UpstreamTLS: Hashable, Sendable {
    var verify: Bool
    /// Kept for the pool key; not enforced (NIOSSL has no verify-depth setting): chains verify at any depth.
    var verifyDepth: Int?
    /// Ids of `ca_certificates` entities, in the service's order.
    var caCertificates: [String]
    /// SNI and the verified name; nil for an IP literal host.
    var serverName: String?

    init?(_ entity: JSONObject, scheme: String, host: String, isIPLiteral: Bool) {
        guard scheme == "https" else { return nil }
        self.verify = entity["tls_verify"]?.boolValue ?? false
        self.verifyDepth = entity["tls_verify_depth"]?.intValue.map { Int($0) }
        self.caCertificates = entity["ca_certificates"]?.arrayValue?.compactMap(\.stringValue) ?? []
        self.serverName = isIPLiteral || host.isEmpty ? nil : host
    }
}

/// NIOSSL client contexts for one event loop, one per distinct verification setting and trust store. Confined to
/// its event loop; made on first use (parsing the CA PEMs once), then reused by every connection.
final class UpstreamTLSContexts {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private struct Key: Hashable {
        var verify: Bool
        /// The CA certificates' PEM text, in order (an updated CA under the same id makes a new context).
        var roots: [String]
    }

    /// Bounded: a configuration churning through trust stores never grows it past this.
    static let capacity = 256

    /// `ca_certificates` PEMs by id, from the configuration the loop last served.
    var caCertificates: [String: String] = [:]
    private var contexts: [Key: NIOSSLContext] = [:]

    func context(for tls: UpstreamTLS) throws(Failure) -> NIOSSLContext {
        var roots: [String] = []
        if tls.verify {
            for id in tls.caCertificates {
                guard let pem = self.caCertificates[id] else {
                    throw Failure(description: "ca_certificate \(id) is not in the configuration")
                }
                roots.append(pem)
            }
        }
        let key = Key(verify: tls.verify, roots: roots)
        if let context = self.contexts[key] { return context }
        var configuration = TLSConfiguration.makeClientConfiguration()
        if tls.verify {
            configuration.certificateVerification = .fullVerification
            if !roots.isEmpty {
                var certificates: [NIOSSLCertificate] = []
                for pem in roots {
                    do {
                        certificates += try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8))
                    } catch {
                        throw Failure(description: "a ca_certificate of the service is not a valid PEM certificate: \(error)")
                    }
                }
                configuration.trustRoots = .certificates(certificates)
            } else {
                configuration.trustRoots = .default
            }
        } else {
            configuration.certificateVerification = .none
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw Failure(description: "cannot make the upstream TLS context: \(error)")
        }
        if self.contexts.count >= Self.capacity { self.contexts.removeAll() }
        self.contexts[key] = context
        return context
    }

    /// The CA index of `content`, built once per configuration a loop serves.
    static func caIndex(_ content: ConfigContent) -> [String: String] {
        var index: [String: String] = [:]
        for ca in content["ca_certificates"] {
            if let id = ca["id"]?.stringValue, let pem = ca["cert"]?.stringValue { index[id] = pem }
        }
        return index
    }
}
