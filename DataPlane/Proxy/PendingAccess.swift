import NIOCore
import NIOHTTP1

/// A request whose plugin `access` phase is suspended: what it needs to be forwarded or answered later, and the
/// parts read meanwhile (bounded: client reads are held while it waits).
final class PendingAccess {
    /// What the forwarding handler decided at the request head.
    struct Facts {
        let service: UpstreamService
        let keepAlive: Bool
        let version: HTTPVersion
        let expectContinue: Bool
        let idempotent: Bool
        let isHead: Bool
    }

    let facts: Facts
    var buffered: [HTTPClientRequestPart] = []
    var requestEnded = false

    init(_ facts: Facts) {
        self.facts = facts
    }
}
