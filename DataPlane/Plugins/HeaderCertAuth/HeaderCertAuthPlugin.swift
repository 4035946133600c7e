package import CertAuth
import Foundation
package import GatewayModel
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// Kong's `header-cert-auth` (priority 1009): authenticates a request by the client certificate (chain) an L7 load
/// balancer forwards in a header, verifies it against the configured `ca_certificates` and maps it to a consumer.
///
/// Per snapshot, off the event loops (``init(config:snapshot:)``): the trust store (shared by the instances that
/// trust the same CA list), decoder, verifier and verdict cache, the consumer and credential indexes (shared by all
/// instances), the trusted sources and the pre-encoded answers. Per request (``access(_:)``): header lookups, one
/// cache lookup (a SHA-256 of the header; OpenSSL only on a miss) and dictionary lookups. The access phase
/// follows Kong's order (kong-reference §1.4) and outcome table (§1.5):
///
/// | situation | answer |
/// |---|---|
/// | `anonymous` set and an earlier auth plugin identified the request | nothing done |
/// | `secure_source` and the TCP peer outside the trusted sources | 401 "TLS certificate failed verification" |
/// | header absent | 401 "No required TLS certificate header was sent" |
/// | header repeated, or not decodable | 401 "TLS certificate failed verification" (Kong: 500 for garbage) |
/// | chain untrusted, expired, incomplete | 401 "TLS certificate failed verification" |
/// | a certificate of the chain revoked (OCSP or CRL), unless `SKIP` | 401 "TLS certificate failed verification" |
/// | revocation unknown (no responder, unreachable, timeout, bad response) with `STRICT` | 401, same body |
/// | revocation unknown with `IGNORE_CA_ERROR` | as if not revoked |
/// | trusted, consumer matched | proxied with X-Consumer-* |
/// | trusted, no match, `default_consumer` exists | proxied with X-Consumer-* and X-Client-Cert-DN/SAN |
/// | trusted, no match, no usable default | 401 "TLS certificate failed verification" |
/// | `skip_consumer_lookup` | proxied with X-Client-Cert-DN/SAN, no consumer |
/// | any 401 above with `anonymous` set | proxied as the anonymous consumer, `X-Anonymous-Consumer: true` |
/// | `anonymous` set but no such consumer | 500 "anonymous consumer X is configured but doesn't exist" |
/// | a referenced CA certificate missing | the instance does not compile: its routes answer 500 |
///
/// The secure-source check uses the real TCP peer, never X-Forwarded-For or X-Real-IP. The certificate header is
/// removed before proxying whatever the outcome (Kong leaves it; an upstream reading it could not tell a checked
/// certificate from a forged one); with `forward_client_cert` a verified leaf goes upstream as RFC 9440
/// `Client-Cert` instead, inbound `Client-Cert`/`Client-Cert-Chain` fields removed first. Reasons for
/// refusals are logged at debug with the metadata key `gw.cert.outcome`; the client never sees them.
///
/// **Revocation** (``RevocationChecker``): unless `revocation_check_mode = SKIP`, every certificate of the verified
/// chain but the anchor is checked, OCSP first, then the CRL (Kong checks the leaf only; with `STRICT` an
/// intermediate naming neither an OCSP responder nor a CRL therefore refuses the chain, as `portcullis verify`
/// shows). A fresh answer cached for the certificate (for `cert_cache_ttl`, never past the response's nextUpdate)
/// decides on the spot, so a verdict-cache hit costs no fetch; otherwise `access` suspends on the check (fetches
/// bounded by `http_timeout`, through `http_proxy_host` when set) and the event loop goes on serving other
/// connections. Outcomes are logged as `revoked` and `verify_failed:revocation_unavailable` (`STRICT` with an
/// unknown answer); `gw.cert.revocation` says `good`, `revoked`, `unknown` or `not_checked`.
package final class HeaderCertAuthPlugin: GatewayPlugin, RawAccessPlugin {
    package static let name = "header-cert-auth"

    package static let factory = PluginFactory(
        name: HeaderCertAuthPlugin.name, priority: 1009,
        reads: ["consumers", "header_cert_auth_credentials", "ca_certificates"],
        compile: { config, snapshot in try HeaderCertAuthPlugin(config: config, snapshot: snapshot) })

    typealias RevocationMode = RevocationCheckMode

    /// The `anonymous` setting, resolved against the snapshot.
    enum Anonymous: Sendable {
        case notConfigured
        case consumer(PluginContext.Consumer)
        /// Configured, but no consumer has that id or username: 500 with this pre-encoded answer.
        case missing(PluginResponse)
    }

    package let phases: PluginPhases = .access
    /// Lowercased `certificate_header_name`.
    package let headerName: String
    let authenticator: HeaderCertificateAuthenticator
    let secureSource: Bool
    /// The plugin's own `trusted_sources`; nil when it has none and the gateway's `_trusted_ips` apply (the proxy
    /// has already checked the peer against those, once per connection: ``PluginContext/trustedSource``).
    let trustedSources: [CIDR]?
    let revocation: RevocationMode
    /// nil with `SKIP`.
    package let revocationChecker: RevocationChecker?
    let skipConsumerLookup: Bool
    /// `forward_client_cert`: a verified leaf goes upstream as RFC 9440 `Client-Cert`.
    let forwardClientCert: Bool
    /// `authenticated_group_by = DN` (else CN).
    let groupByDN: Bool
    let directory: ConsumerDirectory
    let consumerBy: [ConsumerDirectory.Field]
    /// `default_consumer`, when set and found.
    let defaultConsumer: PluginContext.Consumer?
    let anonymous: Anonymous

    /// Chains verified with OpenSSL (cache misses) and verdicts served from the cache, since this instance was
    /// compiled.
    private let verifications = Atomic<Int>(0)
    private let cacheHits = Atomic<Int>(0)
    /// Requests that suspended for a revocation check (no fresh cached answer).
    private let revocationFetches = Atomic<Int>(0)
    /// Requests decided on the fast lane's raw fields (``rawAccess(_:)``), a subset of the cache hits.
    private let rawDecisions = Atomic<Int>(0)

    static let missingHeader = PluginResponse.message(.unauthorized, "No required TLS certificate header was sent")
    static let failedVerification = PluginResponse.message(.unauthorized, "TLS certificate failed verification")

    /// Compiles one plugin entity's `config` (schema defaults filled) against `snapshot`.
    ///
    /// - Throws: ``PluginConfigError`` when a referenced CA certificate does not exist or cannot be used (the
    ///   instance then refuses its requests with 500, as Kong does), or a field has an unusable value.
    package init(config: JSONObject, snapshot: PluginSnapshot) throws {
        let content = snapshot.content
        guard let headerName = config["certificate_header_name"]?.stringValue, !headerName.isEmpty else {
            throw PluginConfigError("certificate_header_name is required")
        }
        self.headerName = headerName.lowercased()
        let formatName = config["certificate_header_format"]?.stringValue ?? ""
        guard let format = CertificateHeaderFormat(rawValue: formatName) else {
            throw PluginConfigError("certificate_header_format '\(formatName)' is not supported")
        }
        let caIDs = (config["ca_certificates"]?.arrayValue ?? []).compactMap(\.stringValue)
        let pems = snapshot.shared("header-cert-auth.ca-pems") {
            var pems: [String: String] = [:]
            for row in content["ca_certificates"] {
                if let id = row["id"]?.stringValue, let pem = row["cert"]?.stringValue { pems[id] = pem }
            }
            return pems
        }
        var anchors: [(id: String?, pem: String)] = []
        for id in caIDs {
            guard let pem = pems[id] else { throw PluginConfigError("CA Certificate '\(id)' does not exist") }
            anchors.append((id: id, pem: pem))
        }
        let store = try snapshot.shared("header-cert-auth.trust-store:" + caIDs.joined(separator: ",")) {
            do {
                return try TrustStore(caCertificates: anchors)
            } catch {
                throw PluginConfigError("ca_certificates cannot be loaded: \(error)")
            }
        }
        let options = ChainVerifier.Options(allowPartialChain: config["allow_partial_chain"]?.boolValue ?? false)
        // The verdict carries the (future) revocation status, which Kong caches for `cert_cache_ttl` (ms); the
        // chain's own validity bounds each entry further (``Verdict/validUntil``). 0 disables the cache.
        let certCacheTTL = max(0, config["cert_cache_ttl"]?.intValue ?? 60_000)
        self.authenticator = HeaderCertificateAuthenticator(
            decoder: HeaderDecoder(format: format), verifier: ChainVerifier(trustStore: store, options: options),
            cache: VerdictCache(capacity: 10_000, ttl: (certCacheTTL + 999) / 1000))

        self.secureSource = config["secure_source"]?.boolValue ?? true
        let own = (config["trusted_sources"]?.arrayValue ?? []).compactMap(\.stringValue)
        self.trustedSources = own.isEmpty ? nil : own.compactMap(CIDR.parse)

        let mode = config["revocation_check_mode"]?.stringValue ?? RevocationMode.ignoreCAError.rawValue
        guard let revocation = RevocationMode(rawValue: mode) else {
            throw PluginConfigError("revocation_check_mode '\(mode)' is not supported")
        }
        self.revocation = revocation
        if revocation == .skip {
            self.revocationChecker = nil
        } else {
            let timeoutMS = max(1, config["http_timeout"]?.intValue ?? 30_000)
            let ttl = Int64((certCacheTTL + 999) / 1000)
            var proxy: (host: String, port: Int)?
            if let host = config["http_proxy_host"]?.stringValue, let port = config["http_proxy_port"]?.intValue {
                proxy = (host, Int(port))
            }
            let key = "header-cert-auth.revocation:\(caIDs.joined(separator: ","))|\(options.allowPartialChain)"
                + "|\(timeoutMS)|\(ttl)|\(proxy.map { "\($0.host):\($0.port)" } ?? "")"
            let configuration = RevocationChecker.Configuration(timeout: .milliseconds(timeoutMS), cacheTTL: ttl,
                                                                proxy: proxy)
            let checker: RevocationChecker = try snapshot.shared(key) {
                guard let checker = RevocationChecker(trustStore: store, allowPartialChain: options.allowPartialChain,
                                                      configuration: configuration)
                else { throw PluginConfigError("revocation checker: OpenSSL cannot allocate a store") }
                return checker
            }
            self.revocationChecker = checker
        }
        self.skipConsumerLookup = config["skip_consumer_lookup"]?.boolValue ?? false
        self.forwardClientCert = config["forward_client_cert"]?.boolValue ?? false
        self.groupByDN = config["authenticated_group_by"]?.stringValue == "DN"

        self.consumerBy = (config["consumer_by"]?.arrayValue ?? ["username", "custom_id"])
            .compactMap { $0.stringValue.flatMap(ConsumerDirectory.Field.init) }
        let directory = snapshot.shared("header-cert-auth.directory") { ConsumerDirectory(content: content) }
        self.directory = directory
        self.defaultConsumer = config["default_consumer"]?.stringValue.flatMap(directory.consumer(idOrUsername:))
        if let value = config["anonymous"]?.stringValue, !value.isEmpty {
            if var consumer = directory.consumer(idOrUsername: value) {
                consumer.anonymous = true
                self.anonymous = .consumer(consumer)
            } else {
                self.anonymous = .missing(.message(
                    .internalServerError, "anonymous consumer \(value) is configured but doesn't exist"))
            }
        } else {
            self.anonymous = .notConfigured
        }
    }

    /// Counters since this instance was compiled (tests, diagnostics).
    package var stats: (verifications: Int, cacheHits: Int, revocationWaits: Int, rawDecisions: Int) {
        (self.verifications.load(ordering: .relaxed), self.cacheHits.load(ordering: .relaxed),
         self.revocationFetches.load(ordering: .relaxed), self.rawDecisions.load(ordering: .relaxed))
    }

    package func access(_ context: PluginContext) -> AccessResult {
        // The certificate header (with RFC 9440's chain) is read, then removed whatever the outcome: an upstream
        // never sees a certificate header, forged or not (with `forward_client_cert`, only the gateway's own
        // `Client-Cert` of a verified leaf). Inbound RFC 9440 fields go too when this plugin is the one to set them.
        let values = context.request.headers[self.headerName]
        var chain: String?
        if self.authenticator.decoder.format == .rfc9440 {
            let lines = context.request.headers["client-cert-chain"]
            chain = lines.isEmpty ? nil : lines.joined(separator: ",")
        }
        if !values.isEmpty { context.request.headers.remove(name: self.headerName) }
        if self.forwardClientCert || chain != nil {
            context.request.headers.remove(name: "client-cert")
            context.request.headers.remove(name: "client-cert-chain")
        }

        // Logical OR with an earlier auth plugin (Kong: `conf.anonymous and kong.client.get_credential()`).
        if case .notConfigured = self.anonymous {} else if context.credential != nil { return .proceed }

        if self.secureSource, !self.isTrustedSource(peer: context.peer, trustedSource: context.trustedSource) {
            return self.refuse(context, Self.failedVerification, outcome: "untrusted_source")
        }
        guard let header = values.first else {
            return self.refuse(context, Self.missingHeader, outcome: "missing_header")
        }
        guard values.count == 1 else {
            return self.refuse(context, Self.failedVerification, outcome: "decode_failed:repeated_header")
        }
        let now = Int64(Date().timeIntervalSince1970)
        let outcome = self.authenticator.authenticate(header: header, chain: chain, now: now)
        switch outcome {
        case .undecodable(let error):
            return self.refuse(context, Self.failedVerification, outcome: error.metricLabel, detail: error.detail)
        case .verdict(.rejected(let failure), let cached):
            self.count(cached: cached, context)
            return self.refuse(context, Self.failedVerification, outcome: failure.metricLabel,
                               detail: failure.description)
        case .verdict(.trusted(let certificate), let cached):
            self.count(cached: cached, context)
            guard let checker = self.revocationChecker else { return self.trusted(certificate, context) }
            let targets = certificate.revocationTargets
            if let status = checker.cachedStatus(of: targets, now: now) {
                return self.revocationChecked(certificate, status, context)
            }
            // The slow path: the check runs in a task; the request resumes on its own loop when it completes.
            self.revocationFetches.add(1, ordering: .relaxed)
            let promise = context.eventLoop.makePromise(of: RevocationStatus.self)
            promise.completeWithTask { await checker.check(targets, now: now) }
            let resumed = promise.futureResult.assumeIsolated().map { status -> AccessResult in
                self.revocationChecked(certificate, status, context)
            }
            return .suspend(resumed.nonisolated())
        }
    }

    /// The fast lane's shortcut (``RawAccessPlugin``): a request whose header has a cached trusted verdict, a fresh
    /// revocation answer that does not refuse it and a consumer (or `skip_consumer_lookup`) is decided here, with
    /// the same upstream fields and counters as `access`. Everything else (refusals, the anonymous fallback,
    /// verification, revocation fetches, `rfc9440`, `forward_client_cert`) returns nil and goes through `access`.
    func rawAccess(_ request: RawRequestView) -> RawAccessDecision? {
        guard self.authenticator.decoder.format != .rfc9440, !self.forwardClientCert else { return nil }
        if self.secureSource, !self.isTrustedSource(peer: request.peer, trustedSource: request.trustedSource) {
            return nil
        }
        // The header must be an ordinary field (the fast lane forwards those by copying their lines).
        guard case .one(let field) = request.single(named: self.headerName), field.kind == .other else { return nil }
        let now = Int64(Date().timeIntervalSince1970)
        let value = UnsafeRawBufferPointer(rebasing: request.raw[field.value])
        guard case .trusted(var certificate)? = self.authenticator.cachedVerdict(header: value, now: now) else {
            return nil
        }
        if let checker = self.revocationChecker {
            guard let status = checker.cachedStatus(of: certificate.revocationTargets, now: now),
                  self.revocation.refusal(for: status) == nil
            else { return nil }
            certificate.revocation = status
        }
        guard case .accepted(let decision) = self.decide(certificate) else { return nil }
        self.cacheHits.add(1, ordering: .relaxed)
        self.rawDecisions.add(1, ordering: .relaxed)
        Self.logOutcome(request.logger, routeID: request.routeID, outcome: decision.outcome, detail: nil,
                        revocation: certificate.revocation, mode: self.revocation)
        return RawAccessDecision(remove: self.headerName, add: decision.fields, outcome: decision.outcome,
                                 consumer: decision.consumer, cached: true)
    }

    /// Applies `revocation_check_mode` to a verified chain's revocation status.
    private func revocationChecked(_ certificate: VerifiedCertificate, _ status: RevocationStatus,
                                   _ context: PluginContext) -> AccessResult
    {
        if let outcome = self.revocation.refusal(for: status) {
            return self.refuse(context, Self.failedVerification, outcome: outcome, detail: status.summary,
                               revocation: status)
        }
        var certificate = certificate
        certificate.revocation = status
        return self.trusted(certificate, context)
    }

    private func count(cached: Bool, _ context: PluginContext) {
        context.verdictCached = cached
        if cached {
            self.cacheHits.add(1, ordering: .relaxed)
        } else {
            self.verifications.add(1, ordering: .relaxed)
        }
    }

    /// - Parameter trustedSource: whether the peer is inside the gateway's trusted sources (checked once per
    ///   connection by the proxy), used when the plugin has no `trusted_sources` of its own.
    private func isTrustedSource(peer: IPAddress?, trustedSource: Bool) -> Bool {
        guard let own = self.trustedSources else { return trustedSource }
        guard let peer else { return false }
        return own.contains { $0.contains(peer) }
    }

    /// A verified chain: revocation policy, then `skip_consumer_lookup` or consumer matching.
    private func trusted(_ certificate: VerifiedCertificate, _ context: PluginContext) -> AccessResult {
        switch self.decide(certificate) {
        case .refused(let outcome):
            return self.refuse(context, Self.failedVerification, outcome: outcome)
        case .accepted(let decision):
            if let consumer = decision.consumer {
                context.authenticate(consumer: consumer, credential: decision.credentialID.map {
                    PluginContext.Credential(id: $0)
                })
                // Changed in place (a copy of the fields would be made for every request otherwise).
                Self.clearConsumerHeaders(&context.request.headers)
            }
            for (name, value) in decision.fields { context.request.headers.replaceOrAdd(name: name, value: value) }
            return self.accepted(certificate, context, outcome: decision.outcome)
        }
    }

    /// Who a verified certificate is (Kong's matching order after verification), and the upstream fields that say
    /// so: what `access` and ``rawAccess(_:)`` both apply.
    private enum Decision {
        case accepted(Accepted)
        /// No usable identity; the outcome names why.
        case refused(String)

        struct Accepted {
            var consumer: PluginContext.Consumer?
            var credentialID: String?
            var fields: [(name: String, value: String)]
            var outcome: String
        }
    }

    private func decide(_ certificate: VerifiedCertificate) -> Decision {
        let identity = certificate.identity
        if self.skipConsumerLookup {
            // Kong hands the group (CN or DN) to the ACL plugin; without a CN there is no group: a failure.
            guard self.groupByDN || identity.commonName != nil else { return .refused("no_common_name") }
            return .accepted(.init(fields: Self.certificateFields(identity), outcome: "ok"))
        }
        if let match = self.directory.match(names: identity.names, issuerID: certificate.issuer.id,
                                             consumerBy: self.consumerBy) {
            return .accepted(.init(consumer: match.consumer, credentialID: match.credentialID,
                                   fields: Self.consumerFields(match.consumer), outcome: "ok"))
        }
        if let consumer = self.defaultConsumer {
            return .accepted(.init(consumer: consumer,
                                   fields: Self.consumerFields(consumer) + Self.certificateFields(identity),
                                   outcome: "ok_default_consumer"))
        }
        return .refused("consumer_not_found")
    }

    /// An authenticated request: the verified leaf forwarded when configured, the outcome logged.
    private func accepted(_ certificate: VerifiedCertificate, _ context: PluginContext, outcome: String)
        -> AccessResult
    {
        if self.forwardClientCert {
            context.request.headers.add(name: "Client-Cert", value: certificate.clientCertField)
        }
        self.log(context, outcome: outcome, detail: nil, revocation: certificate.revocation)
        return .proceed
    }

    /// Any authentication failure: the anonymous consumer when configured, else `response`.
    private func refuse(_ context: PluginContext, _ response: PluginResponse, outcome: String,
                        detail: String? = nil, revocation: RevocationStatus? = nil) -> AccessResult
    {
        self.log(context, outcome: outcome, detail: detail, revocation: revocation)
        switch self.anonymous {
        case .notConfigured:
            return .respond(response)
        case .consumer(let consumer):
            // Proceeding without a verified certificate (the header was removed in `access`).
            self.identify(context, consumer, credential: nil)
            return .proceed
        case .missing(let answer):
            return .respond(answer)
        }
    }

    /// Kong's `set_consumer`: the consumer headers, cleared where the consumer lacks the field.
    private func identify(_ context: PluginContext, _ consumer: PluginContext.Consumer,
                          credential: PluginContext.Credential?)
    {
        context.authenticate(consumer: consumer, credential: credential)
        // Changed in place (a copy of the fields would be made for every request otherwise).
        Self.clearConsumerHeaders(&context.request.headers)
        for (name, value) in Self.consumerFields(consumer) {
            context.request.headers.replaceOrAdd(name: name, value: value)
        }
    }

    /// Kong's `set_consumer` clears the consumer fields the consumer lacks (an earlier plugin may have set them);
    /// the certificate credential has no identifier.
    private static func clearConsumerHeaders(_ headers: inout HTTPHeaders) {
        for name in ["X-Consumer-Custom-ID", "X-Consumer-Username", "X-Credential-Identifier", "X-Anonymous-Consumer"] {
            headers.remove(name: name)
        }
    }

    private static func certificateFields(_ identity: CertificateIdentity) -> [(name: String, value: String)] {
        [("X-Client-Cert-DN", identity.subjectDN), ("X-Client-Cert-SAN", identity.sanHeaderValue)]
    }

    /// The consumer's fields (Kong's `set_consumer`), after ``clearConsumerHeaders(_:)``.
    private static func consumerFields(_ consumer: PluginContext.Consumer) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = [("X-Consumer-ID", consumer.id)]
        if let customID = consumer.customID { fields.append(("X-Consumer-Custom-ID", customID)) }
        if let username = consumer.username { fields.append(("X-Consumer-Username", username)) }
        if consumer.anonymous { fields.append(("X-Anonymous-Consumer", "true")) }
        return fields
    }

    private func log(_ context: PluginContext, outcome: String, detail: String?, revocation: RevocationStatus?) {
        context.authOutcome = outcome
        Self.logOutcome(context.logger, routeID: context.route.id, outcome: outcome, detail: detail,
                        revocation: revocation, mode: self.revocation)
    }

    private static func logOutcome(_ logger: Logger, routeID: String, outcome: String, detail: String?,
                                   revocation: RevocationStatus?, mode: RevocationMode)
    {
        var detail = detail
        if detail == nil, case .unknown? = revocation { detail = revocation?.summary }  // accepted, but say why
        logger.debug("header-cert-auth", metadata: [
            "gw.route.id": "\(routeID)", "gw.cert.outcome": "\(outcome)", "gw.cert.detail": "\(detail ?? "")",
            "gw.cert.revocation": "\(revocation?.label ?? (mode == .skip ? "skipped" : "not_checked"))",
        ])
    }
}
