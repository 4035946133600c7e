import GatewayModel

/// The consumers and `header_cert_auth_credentials` of one snapshot, indexed for header-cert-auth's consumer
/// matching (Kong's mtls-auth/header-cert-auth order). Built once per snapshot, off the event loops, and shared by
/// every header-cert-auth instance (``PluginSnapshot/shared(_:_:)``); per request only dictionary lookups.
///
/// Kong caches these lookups for `cache_ttl` seconds (positive and negative) because it reads them from its
/// database; here they come from the snapshot the request runs with, so they are never stale and `cache_ttl` has
/// nothing to bound.
struct ConsumerDirectory: Sendable {
    /// A `consumer_by` field.
    enum Field: Sendable {
        case username
        case customID

        init?(_ name: String) {
            switch name {
            case "username": self = .username
            case "custom_id": self = .customID
            default: return nil
            }
        }
    }

    /// What a certificate mapped to.
    struct Match: Sendable, Equatable {
        var consumer: PluginContext.Consumer
        /// The `header_cert_auth_credentials` row that mapped it, when a manual mapping did.
        var credentialID: String?
    }

    private struct BoundKey: Hashable {
        var subject: String
        var caID: String
    }

    private let byID: [String: PluginContext.Consumer]
    private let byUsername: [String: PluginContext.Consumer]
    private let byCustomID: [String: PluginContext.Consumer]
    /// Mappings tied to the CA that issued the certificate: (subject_name, ca_certificate) → credential.
    private let bound: [BoundKey: Match]
    /// Mappings with `ca_certificate = null`: subject_name → credential.
    private let unbound: [String: Match]

    init(content: ConfigContent) {
        var byID: [String: PluginContext.Consumer] = [:]
        var byUsername: [String: PluginContext.Consumer] = [:]
        var byCustomID: [String: PluginContext.Consumer] = [:]
        let rows = content["consumers"]
        byID.reserveCapacity(rows.count)
        for row in rows {
            guard let id = row["id"]?.stringValue else { continue }
            let consumer = PluginContext.Consumer(id: id, username: row["username"]?.stringValue,
                                                  customID: row["custom_id"]?.stringValue)
            byID[id] = consumer
            if let username = consumer.username, byUsername[username] == nil { byUsername[username] = consumer }
            if let customID = consumer.customID, byCustomID[customID] == nil { byCustomID[customID] = consumer }
        }
        var bound: [BoundKey: Match] = [:]
        var unbound: [String: Match] = [:]
        // Rows come sorted by id: with duplicate (subject_name, ca_certificate) keys (which the admin API refuses)
        // the first one wins, deterministically.
        for row in content["header_cert_auth_credentials"] {
            guard let subject = row["subject_name"]?.stringValue,
                  let consumerID = row["consumer"]?["id"]?.stringValue, let consumer = byID[consumerID]
            else { continue }
            let match = Match(consumer: consumer, credentialID: row["id"]?.stringValue)
            if let caID = row["ca_certificate"]?["id"]?.stringValue {
                let key = BoundKey(subject: subject, caID: caID)
                if bound[key] == nil { bound[key] = match }
            } else if unbound[subject] == nil {
                unbound[subject] = match
            }
        }
        self.byID = byID
        self.byUsername = byUsername
        self.byCustomID = byCustomID
        self.bound = bound
        self.unbound = unbound
    }

    /// A consumer named by id or, failing that, username (Kong's `kong.client.load_consumer(value, true)`, used for
    /// `anonymous` and `default_consumer`; a custom_id does not name one).
    func consumer(idOrUsername value: String) -> PluginContext.Consumer? {
        self.byID[value] ?? self.byUsername[value]
    }

    /// The consumer a verified certificate maps to, stopping at the first hit:
    /// 1. for each name (SANs in certificate order, then the CN): a mapping with that `subject_name` tied to
    ///    `issuerID`, then one with that `subject_name` and no CA;
    /// 2. for each name, for each `consumer_by` field: a consumer whose username/custom_id equals the name.
    ///
    /// - Parameters:
    ///   - names: ``CertAuth/CertificateIdentity/names``.
    ///   - issuerID: the `ca_certificates` id the verified path ends at.
    ///   - consumerBy: the plugin's `consumer_by`, in order; empty disables matching by consumer fields.
    func match(names: [String], issuerID: String?, consumerBy: [Field]) -> Match? {
        if !self.bound.isEmpty || !self.unbound.isEmpty {
            for name in names {
                if let issuerID, let match = self.bound[BoundKey(subject: name, caID: issuerID)] { return match }
                if let match = self.unbound[name] { return match }
            }
        }
        for name in names {
            for field in consumerBy {
                if let consumer = field == .username ? self.byUsername[name] : self.byCustomID[name] {
                    return Match(consumer: consumer, credentialID: nil)
                }
            }
        }
        return nil
    }
}
