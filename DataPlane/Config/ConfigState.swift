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

    /// Where configuration and link changes are counted (``DataPlaneMetrics``); nil without metrics.
    package let metrics: DataPlaneMetrics?

    package init(metrics: DataPlaneMetrics? = nil) {
        self.metrics = metrics
    }

    /// The configuration a request should use (taken once at request start).
    package var config: AppliedConfig? { self.current.withLock { $0 } }

    /// Swaps in a new configuration atomically; `took`: how long applying it took (from the control plane).
    package func apply(_ config: AppliedConfig, took: Duration? = nil) {
        self.current.withLock { $0 = config }
        self.metrics?.configApplied(version: config.version, hash: config.hash, source: config.source.rawValue,
                                    duration: took)
    }

    package var linkState: Link { self.link.withLock { $0 } }

    package func updateLink(_ change: (inout Link) -> Void) {
        let (before, after) = self.link.withLock { link -> (Bool, Bool) in
            let before = link.connected
            change(&link)
            return (before, link.connected)
        }
        if before != after { self.metrics?.controlPlane(connected: after) }
    }

    package func recordError(_ message: String) {
        self.link.withLock {
            $0.lastError = message
            $0.lastErrorAt = Date().timeIntervalSince1970
        }
    }
}
