import Foundation
import Synchronization

/// The data plane's current configuration and its link to the control plane, shared by the cluster client
/// (writer) and the proxy and status listeners (readers).
package final class ConfigState: Sendable {
    private let current = Mutex<AppliedConfig?>(nil)
    private let link = Mutex<Link>(Link())

    package struct Link: Sendable {
        package var connected = false
        package var controlPlaneID: String?
        package var lastContact: Double?
        package var lastError: String?
        package var lastErrorAt: Double?
    }

    package init() {}

    /// The configuration a request should use (taken once at request start).
    package var config: AppliedConfig? { self.current.withLock { $0 } }

    /// Swaps in a new configuration atomically.
    package func apply(_ config: AppliedConfig) { self.current.withLock { $0 = config } }

    package var linkState: Link { self.link.withLock { $0 } }

    package func updateLink(_ change: (inout Link) -> Void) { self.link.withLock { change(&$0) } }

    package func recordError(_ message: String) {
        self.link.withLock {
            $0.lastError = message
            $0.lastErrorAt = Date().timeIntervalSince1970
        }
    }
}
