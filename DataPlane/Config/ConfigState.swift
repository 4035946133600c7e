import Foundation
import Synchronization

/// The data plane's current configuration and its link to the control plane, shared by the cluster client
/// (writer) and the proxy and status listeners (readers).
package final class ConfigState: Sendable {
    private let current = Mutex<AppliedConfig?>(nil)
    /// Configurations swapped out that an event loop may still hold (its loop context until its next request, or
    /// a request in flight). Held here so that the last reference is never dropped on an event loop: freeing a
    /// configuration of 100k routes takes tens of milliseconds, which no request should wait behind.
    /// ``releaseRetired()`` frees those no one else holds any more.
    private let retired = Mutex<[AppliedConfig]>([])
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
        let old = self.current.withLock { current in
            defer { current = config }
            return current
        }
        if let old { self.retired.withLock { $0.append(old) } }
        self.metrics?.configApplied(version: config.version, hash: config.hash, source: config.source.rawValue,
                                    duration: took)
    }

    /// Frees, on the calling thread (never call it on an event loop), the retired configurations nothing else
    /// references any more. Once only this list holds one, nothing can take it again (the current configuration
    /// is another). Returns how many were freed.
    @discardableResult
    package func releaseRetired() -> Int {
        let free = self.retired.withLock { list -> [AppliedConfig] in
            var unused: [AppliedConfig] = []
            var i = 0
            while i < list.count {
                if isKnownUniquelyReferenced(&list[i]) { unused.append(list.remove(at: i)) } else { i += 1 }
            }
            return unused
        }
        // Dropped here, outside the lock.
        return free.count
    }

    /// How many swapped-out configurations are waiting for their last users (tests, status).
    package var retiredCount: Int { self.retired.withLock { $0.count } }

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
