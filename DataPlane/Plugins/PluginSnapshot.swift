package import GatewayModel
import Synchronization

/// What plugin factories compile against: the snapshot's content, and a memo shared by every plugin instance
/// compiled from it, so instances with equal inputs share what they derive (one trust store per distinct CA set,
/// one consumer index per snapshot) instead of each building its own.
package final class PluginSnapshot: Sendable {
    package let content: ConfigContent
    private let memo = Mutex<[String: any Sendable]>([:])

    package init(content: ConfigContent) {
        self.content = content
    }

    /// The value stored under `key`, built by `build` the first time (a failed build is not stored). Keys are
    /// namespaced by the caller (`"<plugin>.<what>:<inputs>"`); a key must determine the value.
    package func shared<T: Sendable>(_ key: String, _ build: () throws -> T) rethrows -> T {
        // Unwrapped before the cast: a missing entry cast to an Optional `T` would succeed as nil.
        if let stored = self.memo.withLock({ $0[key] }), let value = stored as? T { return value }
        let value = try build()
        self.memo.withLock { $0[key] = value }
        return value
    }
}
