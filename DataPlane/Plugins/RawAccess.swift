package import GatewayModel
import Logging

/// A plugin whose `access` phase can usually decide from the request's fields as the fast lane read them: no
/// `HTTPHeaders`, ``PluginContext`` or ``PluginRun`` is made for the request then.
///
/// ``rawAccess(_:)`` answers only for the outcome it can give exactly as `access` would (typically: authenticated,
/// from a cached verdict); for anything else it returns nil, having changed and counted nothing, and the request
/// goes through `access` as usual. The fast lane uses it only when the plugin is the whole chain (one instance, no
/// consumer-scoped ones) and has no phase but `access` (``PluginChain/rawAccess``).
protocol RawAccessPlugin: GatewayPlugin {
    func rawAccess(_ request: RawRequestView) -> RawAccessDecision?
}

/// The request as the fast lane read it, for ``RawAccessPlugin/rawAccess(_:)``. Valid only during that call.
struct RawRequestView {
    let raw: UnsafeRawBufferPointer
    let fields: [ScannedField]
    /// The TCP peer, and whether it is inside the gateway's trusted sources (``PluginContext/trustedSource``).
    let peer: IPAddress?
    let trustedSource: Bool
    let routeID: String
    let logger: Logger

    /// The only field named `lowercasedName` (compared case-insensitively) when exactly one is, with its kind; nil
    /// when there is none; `.repeated` when there are several.
    func single(named lowercasedName: String) -> Lookup {
        var found: ScannedField?
        for field in self.fields where field.name.count == lowercasedName.utf8.count {
            guard HeadScanner.equalIgnoringCase(self.raw[field.name], lowercasedName.utf8) else { continue }
            if found != nil { return .repeated }
            found = field
        }
        return found.map { .one($0) } ?? .absent
    }

    enum Lookup {
        case absent
        case one(ScannedField)
        case repeated
    }
}

/// What ``RawAccessPlugin/rawAccess(_:)`` decided: the request goes upstream with these changes.
struct RawAccessDecision {
    /// The lowercased name of the client's field left out of the upstream request (a field of kind `.other`).
    var remove: String
    /// Fields added to the upstream request, in order, after the forwarding ones (as `access` would append them).
    var add: [(name: String, value: String)]
    /// For metrics and the access log: the plugin's outcome, the consumer, whether a cached verdict decided.
    var outcome: String
    var consumer: PluginContext.Consumer?
    var cached: Bool?
}
