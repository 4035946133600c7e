import Synchronization

/// A small bounded map whose entries expire at a given time; shared across threads behind a `Mutex`.
///
/// Used for revocation results (per certificate) and CRLs (per URL): both are filled on a slow path (a network
/// fetch), so a full cache may afford an O(n) sweep: expired entries go first, then the one expiring soonest.
final class ExpiringCache<Value: Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var expiresAt: Int64
    }

    let capacity: Int
    private let entries: Mutex<[String: Entry]>

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        self.entries = Mutex([:])
    }

    /// The value for `key` if it has not expired at `now`.
    func lookup(_ key: String, now: Int64) -> Value? {
        self.entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard now < entry.expiresAt else {
                entries[key] = nil
                return nil
            }
            return entry.value
        }
    }

    /// Stores `value` until `expiresAt`; a value already expired at `now` is not stored.
    func insert(_ value: Value, for key: String, expiresAt: Int64, now: Int64) {
        guard expiresAt > now else { return }
        let capacity = self.capacity
        self.entries.withLock { entries in
            if entries[key] == nil, entries.count >= capacity {
                entries = entries.filter { $0.value.expiresAt > now }
                if entries.count >= capacity,
                   let soonest = entries.min(by: { $0.value.expiresAt < $1.value.expiresAt })
                {
                    entries[soonest.key] = nil
                }
            }
            entries[key] = Entry(value: value, expiresAt: expiresAt)
        }
    }

    var count: Int { self.entries.withLock { $0.count } }

    func removeAll() { self.entries.withLock { $0.removeAll() } }
}
