import Synchronization

/// A bounded, expiring cache of verdicts, shared by all event loops of one plugin instance.
///
/// - Keys: ``VerdictCacheKey`` (digest of verifier identity + raw header), so a hit costs one SHA-256 of the
///   header, a dictionary lookup and a retain: no decoding, no OpenSSL call, nothing allocated per certificate.
/// - Expiry: an entry lives until the earlier of `insert time + ttl` and ``Verdict/validUntil`` (a trusted
///   chain's first notAfter; a not-yet-valid certificate's notBefore).
/// - Bound: at most `capacity` entries, evicted with the CLOCK (second-chance) algorithm; expired entries met by
///   the clock hand go first.
/// - Concurrency: one instance per plugin instance, shared across event loops behind a `Mutex`. The critical
///   section is O(1) (the digest is computed outside it), so contention stays far below the cost of one
///   verification; per-loop instances would multiply misses by the number of loops.
/// - Invalidation: ``removeAll()`` on snapshot change (or build a new cache with the new compiled config).
package final class VerdictCache: Sendable {
    private struct Entry {
        var key: VerdictCacheKey
        var verdict: Verdict
        var expiresAt: Int64
        var referenced: Bool
    }

    private struct State: ~Copyable {
        var slots: [Entry?]
        var index: [VerdictCacheKey: Int]
        var free: [Int]
        var hand = 0

        mutating func remove(at slot: Int) {
            guard let entry = self.slots[slot] else { return }
            self.index[entry.key] = nil
            self.slots[slot] = nil
            self.free.append(slot)
        }
    }

    package let capacity: Int
    /// Maximum lifetime of an entry, in seconds.
    package let ttl: Int64
    private let state: Mutex<State>

    /// - Parameters:
    ///   - capacity: maximum number of entries (at least 1).
    ///   - ttl: maximum lifetime of an entry in seconds (Kong's `cache_ttl` default is 60).
    package init(capacity: Int = 10_000, ttl: Int64 = 60) {
        let capacity = max(1, capacity)
        self.capacity = capacity
        self.ttl = max(0, ttl)
        var index: [VerdictCacheKey: Int] = [:]
        index.reserveCapacity(capacity)
        self.state = Mutex(State(
            slots: [Entry?](repeating: nil, count: capacity), index: index, free: Array((0..<capacity).reversed())))
    }

    /// The cached verdict for `key` if it has not expired at `now` (seconds since the epoch).
    package func lookup(_ key: VerdictCacheKey, now: Int64) -> Verdict? {
        self.state.withLock { state in
            guard let slot = state.index[key], let entry = state.slots[slot] else { return nil }
            guard now < entry.expiresAt else {
                state.remove(at: slot)
                return nil
            }
            state.slots[slot]?.referenced = true
            return entry.verdict
        }
    }

    /// Stores `verdict` for `key`, verified at `now`. A verdict already expired at `now` is not stored.
    package func insert(_ verdict: Verdict, for key: VerdictCacheKey, now: Int64) {
        var expiresAt = now + self.ttl
        if let until = verdict.validUntil { expiresAt = min(expiresAt, until) }
        guard expiresAt > now else { return }
        let entry = Entry(key: key, verdict: verdict, expiresAt: expiresAt, referenced: false)
        self.state.withLock { state in
            if let slot = state.index[key] {
                state.slots[slot] = entry
                return
            }
            if state.free.isEmpty { Self.evictOne(&state, now: now) }
            guard let slot = state.free.popLast() else { return }
            state.slots[slot] = entry
            state.index[key] = slot
        }
    }

    /// Drops every entry (e.g. when a new configuration snapshot is applied).
    package func removeAll() {
        self.state.withLock { state in
            state.index.removeAll(keepingCapacity: true)
            for i in state.slots.indices { state.slots[i] = nil }
            state.free = Array((0..<state.slots.count).reversed())
            state.hand = 0
        }
    }

    /// Number of entries currently held (expired ones included until met).
    package var count: Int { self.state.withLock { $0.index.count } }

    /// CLOCK: advance the hand, giving referenced entries a second chance; expired entries are taken at once.
    private static func evictOne(_ state: inout State, now: Int64) {
        let n = state.slots.count
        for _ in 0..<(2 * n + 1) {
            let slot = state.hand
            state.hand = (state.hand + 1) % n
            guard let entry = state.slots[slot] else { continue }
            if entry.expiresAt <= now || !entry.referenced {
                state.remove(at: slot)
                return
            }
            state.slots[slot]?.referenced = false
        }
    }
}
