#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A hash map from `String` keys made of small independent shards, so that a changed copy shares every shard it did
/// not touch: a router built from another by changing a few routes copies a few small shards, not whole tables.
///
/// Shards sit in groups (a two-level directory: group, then shard, both chosen by hash bits), so a change copies one
/// directory of groups, one group and one shard, each small, whatever the number of keys. Each shard is an
/// open-addressing table (linear probing, at most half full) with backward-shift deletion: there are no tombstones,
/// so lookups do not slow down as keys come and go. A slot holds the hash, the key and the value together, so most
/// lookups read one cache line of the shard. Hashes are ``KeyHash`` of the key's UTF-8 bytes (seeded per process,
/// which is all a router needs) and keys compare byte for byte, so a request's path prefix is looked up in place,
/// without making a `String` of it (``value(forUTF8:)``).
///
/// The shard count doubles when shards hold more than ``maxAverageShardCount`` keys on average: a rebuild of the
/// whole table, amortised over the insertions that made it necessary.
struct ShardedTable<Value: Sendable>: Sendable {
    private struct Slot {
        /// 0 marks an empty slot (stored hashes are never 0).
        var hash: Int
        var key: String
        var value: Value?

        static var empty: Slot { Slot(hash: 0, key: "", value: nil) }
    }

    /// One shard's slots, inline in one allocation (the header is the slot count); every slot is initialised.
    private final class Storage: ManagedBuffer<Int, Slot> {
        static func make(capacity: Int) -> Storage {
            let buffer = Storage.create(minimumCapacity: capacity) { _ in capacity }
            let storage = unsafeDowncast(buffer, to: Storage.self)
            storage.withUnsafeMutablePointerToElements { $0.initialize(repeating: .empty, count: capacity) }
            return storage
        }

        func copy() -> Storage {
            let capacity = self.header
            let buffer = Storage.create(minimumCapacity: capacity) { _ in capacity }
            let storage = unsafeDowncast(buffer, to: Storage.self)
            self.withUnsafeMutablePointerToElements { old in
                storage.withUnsafeMutablePointerToElements { $0.initialize(from: old, count: capacity) }
            }
            return storage
        }

        deinit {
            _ = self.withUnsafeMutablePointers { capacity, slots in slots.deinitialize(count: capacity.pointee) }
        }
    }

    /// An open-addressing table. The mask (slot count - 1) and a one-word filter of the keys' hashes are kept here,
    /// beside the reference, so that a lookup reads the storage only at the slot it probes, and most lookups of
    /// absent keys (the common case: a request's path prefixes at lengths that are not routes) not at all.
    ///
    /// `@unchecked Sendable` (`ManagedBuffer` is not `Sendable`): storage is written only while uniquely referenced
    /// (it is copied first otherwise), so storage that another table, or another thread, can reach is never written.
    private struct Shard: @unchecked Sendable {
        var storage: Storage
        /// Bit `hash >> 58` of every key's hash: a clear bit means no key has such a hash.
        private var filter: UInt64 = 0
        /// 32 bits each, so that a directory entry is 24 bytes and directories stay small enough to be cached.
        private var mask32: UInt32
        private var count32: UInt32 = 0

        var mask: Int { Int(self.mask32) }
        var count: Int {
            get { Int(self.count32) }
            set { self.count32 = UInt32(truncatingIfNeeded: newValue) }
        }

        init(capacity: Int) {
            self.storage = Storage.make(capacity: capacity)
            self.mask32 = UInt32(truncatingIfNeeded: capacity &- 1)
        }

        @inline(__always)
        private static func filterBit(_ hash: Int) -> UInt64 {
            1 &<< (UInt64(truncatingIfNeeded: hash) &>> 58)
        }

        func value(forUTF8 key: UnsafeBufferPointer<UInt8>, hash: Int) -> Value? {
            if self.filter & Self.filterBit(hash) == 0 { return nil }
            return self.storage.withUnsafeMutablePointerToElements { slots in
                let mask = Int(self.mask32)
                var i = hash & mask
                while true {
                    let h = slots[i].hash
                    if h == 0 { return nil }
                    if h == hash, KeyHash.equal(slots[i].key, key) { return slots[i].value }
                    i = (i &+ 1) & mask
                }
            }
        }

        /// Gives `body` the key's value (nil when absent) to change in place; nil afterwards removes the key.
        /// - Returns: `body`'s result and the change in the key count (-1, 0 or 1).
        mutating func modify<R>(_ key: String, hash: Int, _ body: (inout Value?) -> R) -> (R, Int) {
            if !isKnownUniquelyReferenced(&self.storage) { self.storage = self.storage.copy() }
            let mask = self.mask
            let (result, delta) = self.storage.withUnsafeMutablePointerToElements { slots -> (R, Int) in
                var i = hash & mask
                while slots[i].hash != 0 {
                    if slots[i].hash == hash, KeyHash.equal(slots[i].key, key) {
                        // Taken out of the slot so that `body` holds the only reference when no other table does.
                        var value = slots[i].value
                        slots[i].value = nil
                        let result = body(&value)
                        if value == nil {
                            Self.remove(at: i, from: slots, mask: mask)
                            return (result, -1)
                        }
                        slots[i].value = value
                        return (result, 0)
                    }
                    i = (i &+ 1) & mask
                }
                var value: Value? = nil
                let result = body(&value)
                guard value != nil else { return (result, 0) }
                slots[i] = Slot(hash: hash, key: key, value: value)
                return (result, 1)
            }
            self.count += delta
            if delta > 0 { self.filter |= Self.filterBit(hash) }
            if delta < 0 { self.refilter() }
            if self.count * 2 > self.mask + 1 { self.resize(to: (self.mask + 1) * 2) }
            return (result, delta)
        }

        /// Empties a slot, moving later entries of its probe run back so that every entry stays reachable from
        /// its home slot without crossing an empty one.
        private static func remove(at slot: Int, from slots: UnsafeMutablePointer<Slot>, mask: Int) {
            var hole = slot
            var j = slot
            while true {
                j = (j &+ 1) & mask
                let h = slots[j].hash
                if h == 0 { break }
                let home = h & mask
                // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
                let staysPut = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
                if staysPut { continue }
                slots[hole] = slots[j]
                hole = j
            }
            slots[hole] = .empty
        }

        /// Adds a key known to be absent, growing the shard first when it would be more than half full.
        mutating func insertNew(_ key: String, _ value: Value, hash: Int) {
            if (self.count + 1) * 2 > self.mask + 1 { self.resize(to: (self.mask + 1) * 2) }
            if !isKnownUniquelyReferenced(&self.storage) { self.storage = self.storage.copy() }
            let mask = self.mask
            self.storage.withUnsafeMutablePointerToElements { slots in
                var i = hash & mask
                while slots[i].hash != 0 { i = (i &+ 1) & mask }
                slots[i] = Slot(hash: hash, key: key, value: value)
            }
            self.count += 1
            self.filter |= Self.filterBit(hash)
        }

        /// The filter of the keys left (bits cannot be cleared one key at a time).
        private mutating func refilter() {
            var filter: UInt64 = 0
            self.storage.withUnsafeMutablePointerToElements { slots in
                for i in 0...self.mask where slots[i].hash != 0 { filter |= Self.filterBit(slots[i].hash) }
            }
            self.filter = filter
        }

        mutating func resize(to capacity: Int) {
            var bigger = Shard(capacity: capacity)
            self.forEachSlot { bigger.insertNew($0.key, $1, hash: $0.hash) }
            self = bigger
        }

        func forEachSlot(_ body: (_ slot: Slot, _ value: Value) -> Void) {
            self.storage.withUnsafeMutablePointerToElements { slots in
                for i in 0...self.mask where slots[i].hash != 0 {
                    if let v = slots[i].value { body(slots[i], v) }
                }
            }
        }

        func forEach(_ body: (String, Value) -> Void) {
            self.forEachSlot { body($0.key, $1) }
        }

        mutating func updateValues(_ body: (inout Value) -> Void) {
            if !isKnownUniquelyReferenced(&self.storage) { self.storage = self.storage.copy() }
            let mask = self.mask
            self.storage.withUnsafeMutablePointerToElements { slots in
                for i in 0...mask where slots[i].hash != 0 {
                    guard var value = slots[i].value else { continue }
                    slots[i].value = nil  // `value` alone refers to it: changed in place
                    body(&value)
                    slots[i].value = value
                }
            }
        }
    }

    static var maxAverageShardCount: Int { 64 }

    /// A Bloom filter of the keys' hashes in front of the shards (two bits per key, about 16 bits of filter per
    /// key, so about 1.5 % false positives): the router probes several path prefixes per request and most are
    /// absent, and the filter answers those from a few hundred KiB that stay in cache, where the shard directory
    /// and storage would cost a cache miss each.
    ///
    /// Chunked like the shards, so a changed copy shares every chunk it did not touch. Bits of removed keys stay
    /// set (a Bloom filter cannot clear one key); the filter is rebuilt from the keys when removals pile up or the
    /// table outgrows it.
    private struct Bloom: @unchecked Sendable {
        final class Chunk {
            static var words: Int { 64 }
            var words: [UInt64]
            init() { self.words = [UInt64](repeating: 0, count: Self.words) }
            init(copying other: Chunk) { self.words = other.words }
        }

        private(set) var chunks: [Chunk] = []
        private var mask = 0
        /// Keys the filter was sized for, and removals since it was built.
        private var capacity = 0
        private(set) var removals = 0

        init() {}

        init(keys: Int) {
            var bits = Chunk.words * 64
            while bits < keys * 16 { bits *= 2 }
            self.mask = bits - 1
            self.capacity = bits / 16
            self.chunks = (0..<(bits / (Chunk.words * 64))).map { _ in Chunk() }
        }

        @inline(__always)
        private func bits(_ hash: Int) -> (Int, Int) {
            let h = UInt64(truncatingIfNeeded: hash)
            return (Int(truncatingIfNeeded: h &>> 3) & self.mask,
                    Int(truncatingIfNeeded: (h &>> 35) ^ (h &<< 13)) & self.mask)
        }

        @inline(__always)
        private func test(_ bit: Int) -> Bool {
            let perChunk = Chunk.words * 64
            return self.chunks.withUnsafeBufferPointer { chunks in
                chunks[bit / perChunk].words.withUnsafeBufferPointer { words in
                    words[(bit % perChunk) &>> 6] & (1 &<< UInt64(bit & 63)) != 0
                }
            }
        }

        private mutating func set(_ bit: Int) {
            let perChunk = Chunk.words * 64
            let c = bit / perChunk
            if !isKnownUniquelyReferenced(&self.chunks[c]) { self.chunks[c] = Chunk(copying: self.chunks[c]) }
            self.chunks[c].words[(bit % perChunk) &>> 6] |= 1 &<< UInt64(bit & 63)
        }

        /// False only when no key has this hash.
        @inline(__always)
        func mayContain(_ hash: Int) -> Bool {
            if self.chunks.isEmpty { return true }
            let (a, b) = self.bits(hash)
            return self.test(a) && self.test(b)
        }

        mutating func insert(_ hash: Int) {
            guard !self.chunks.isEmpty else { return }
            let (a, b) = self.bits(hash)
            self.set(a)
            self.set(b)
        }

        mutating func noteRemoval() { self.removals += 1 }

        /// Whether the filter should be (re)built for `count` keys: outgrown, or too many stale bits. Small tables
        /// have none (their shards' own filters do): a router with many hosts has many small tables.
        func isStale(count: Int) -> Bool {
            if self.chunks.isEmpty { return count >= Bloom.minimumKeys }
            return count > self.capacity || self.removals > max(1024, count / 2)
        }

        static var minimumKeys: Int { 256 }
    }

    /// 2^(groupBits + shardBits) shards: `groups[g][s]`. Empty until the first key.
    private var groups: [[Shard]] = []
    private var groupBits = 0
    private var shardBits = 0
    private var groupMask = 0
    private var shardMask = 0
    private(set) var count = 0
    private var bloom = Bloom()

    init() {}

    /// An empty table sized for `count` keys, so that filling it does not rebuild it.
    init(minimumCapacity count: Int) {
        if count > 0 { self.layout(bits: Self.bits(for: count), keys: count) }
        if count >= Bloom.minimumKeys { self.bloom = Bloom(keys: count) }
    }

    var isEmpty: Bool { self.count == 0 }

    private static func hash(_ key: String) -> Int {
        var key = key
        return key.withUTF8 { KeyHash.of($0) }
    }

    /// Shards take hash bits from bit 32 up, slots the low bits, shard filters the top 6 bits.
    @inline(__always)
    private func location(_ hash: Int) -> (group: Int, shard: Int) {
        let n = Int(truncatingIfNeeded: UInt64(truncatingIfNeeded: hash) &>> 32)
        return ((n &>> self.shardBits) & self.groupMask, n & self.shardMask)
    }

    func value(for key: String) -> Value? {
        if self.count == 0 { return nil }
        if let found = key.utf8.withContiguousStorageIfAvailable({ self.value(forUTF8: $0) }) { return found }
        return Array(key.utf8).withUnsafeBufferPointer { self.value(forUTF8: $0) }
    }

    /// The value of the key made of the first `length` UTF-8 bytes of `text` (a request path's prefix), without
    /// making a string of it.
    func value(forPrefixOf text: String, length: Int) -> Value? {
        if self.count == 0 { return nil }
        let found = text.utf8.withContiguousStorageIfAvailable { bytes in
            self.value(forUTF8: UnsafeBufferPointer(rebasing: bytes[..<min(length, bytes.count)]))
        }
        if let found { return found }
        return Array(text.utf8.prefix(length)).withUnsafeBufferPointer { self.value(forUTF8: $0) }
    }

    /// The value of the key with these UTF-8 bytes.
    func value(forUTF8 key: UnsafeBufferPointer<UInt8>) -> Value? {
        if self.count == 0 { return nil }
        let hash = KeyHash.of(key)
        if !self.bloom.mayContain(hash) { return nil }
        let (g, s) = self.location(hash)
        // Through buffers, the group and the shard are borrowed where they lie (no copies, no reference counting).
        return self.groups.withUnsafeBufferPointer { groups in
            groups[g].withUnsafeBufferPointer { $0[s].value(forUTF8: key, hash: hash) }
        }
    }

    /// Gives `body` the key's value (nil when absent) to change in place; setting it to nil removes the key.
    /// Only the key's group and shard are copied when the storage is shared with another table.
    @discardableResult
    mutating func modify<R>(_ key: String, _ body: (inout Value?) -> R) -> R {
        if self.groups.isEmpty { self.layout(bits: 0, keys: 1) }
        let hash = Self.hash(key)
        let (g, s) = self.location(hash)
        let (result, delta) = self.groups[g][s].modify(key, hash: hash, body)
        self.count += delta
        if delta > 0 { self.bloom.insert(hash) }
        if delta < 0 { self.bloom.noteRemoval() }
        if delta > 0, self.count > (1 << (self.groupBits + self.shardBits)) * Self.maxAverageShardCount {
            self.rebuild(bits: self.groupBits + self.shardBits + 1)
        } else if delta != 0, self.bloom.isStale(count: self.count) {
            self.rebuildBloom()
        }
        return result
    }

    mutating func setValue(_ value: Value?, for key: String) {
        self.modify(key) { $0 = value }
    }

    func forEach(_ body: (String, Value) -> Void) {
        for group in self.groups {
            for shard in group { shard.forEach(body) }
        }
    }

    /// Changes every value in place (keys stay).
    mutating func updateValues(_ body: (inout Value) -> Void) {
        for g in self.groups.indices {
            for s in self.groups[g].indices { self.groups[g][s].updateValues(body) }
        }
    }

    /// Shard bits for `count` keys: shards half the maximum average, so that growth is not rebuilt soon.
    private static func bits(for count: Int) -> Int {
        var bits = 0
        while count > (1 << bits) * Self.maxAverageShardCount / 2 { bits += 1 }
        return bits
    }

    /// Empty shards, 2^bits of them, each sized for its share of `keys` keys.
    private mutating func layout(bits: Int, keys: Int) {
        self.groupBits = (bits + 1) / 2
        self.shardBits = bits / 2
        self.groupMask = (1 << self.groupBits) - 1
        self.shardMask = (1 << self.shardBits) - 1
        var capacity = 4
        while capacity < 2 * ((keys >> bits) + 1) { capacity *= 2 }
        // Each shard its own storage (not copies of one shard, each copied again on its first change).
        self.groups = (0..<(1 << self.groupBits)).map { _ in
            (0..<(1 << self.shardBits)).map { _ in Shard(capacity: capacity) }
        }
    }

    private mutating func rebuild(bits: Int) {
        let old = self.groups
        self.layout(bits: bits, keys: self.count)
        for group in old {
            for shard in group {
                shard.forEachSlot { slot, value in
                    let (g, s) = self.location(slot.hash)
                    self.groups[g][s].insertNew(slot.key, value, hash: slot.hash)
                }
            }
        }
        self.rebuildBloom()
    }

    /// A new filter sized for twice the keys there are (room to grow), from their hashes; none for a small table.
    private mutating func rebuildBloom() {
        guard self.count >= Bloom.minimumKeys else {
            self.bloom = Bloom()
            return
        }
        var bloom = Bloom(keys: self.count * 2)
        for group in self.groups {
            for shard in group { shard.forEachSlot { slot, _ in bloom.insert(slot.hash) } }
        }
        self.bloom = bloom
    }
}

/// How ``ShardedTable`` hashes and compares keys: by their UTF-8 bytes. FNV-1a from a per-process random seed, then
/// a final mix so every bit depends on every byte (shards take the high bits, slots the low ones). Only the
/// configuration puts keys in a table; requests only look up, so a request cannot lengthen a probe sequence.
enum KeyHash {
    private static let seed = UInt64.random(in: .min ... .max)

    @inline(__always)
    static func of(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ Self.seed
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        h ^= h &>> 33
        h &*= 0xFF51_AFD7_ED55_8CCD
        h ^= h &>> 33
        h &*= 0xC4CE_B9FE_1A85_EC53
        h ^= h &>> 33
        let r = Int(truncatingIfNeeded: h)
        return r == 0 ? 1 : r  // 0 marks an empty slot
    }

    @inline(__always)
    static func equal(_ stored: String, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        if let same = stored.utf8.withContiguousStorageIfAvailable({ bytes -> Bool in
            guard bytes.count == key.count else { return false }
            guard let a = bytes.baseAddress, let b = key.baseAddress else { return true }  // both empty
            return memcmp(a, b, key.count) == 0
        }) {
            return same
        }
        return stored.utf8.elementsEqual(key)
    }

    static func equal(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && a.utf8.elementsEqual(b.utf8)
    }
}
