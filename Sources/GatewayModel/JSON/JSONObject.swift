import Foundation

/// A JSON object: its members kept sorted by key, in UTF-8 byte order (the order ``JSONWriter`` writes), each key
/// once.
///
/// Why not a dictionary: a snapshot of 100k routes is 110k objects of about twenty members, built once and read a
/// few times. A dictionary hashes every key as it is built (a third of a snapshot decode went there); members
/// that arrive in canonical order (every snapshot row does) are kept as they come, and a lookup is a binary search
/// over a handful of keys, comparing each key's first eight bytes as one integer (kept beside the key) before its
/// bytes. Equal objects have equal members in the same order, so `==` and hashing compare members in order.
///
/// Keys are compared as bytes (as JSON and Kong do), not by Unicode canonical equivalence as `String ==` does:
/// two keys that differ only in normalisation are two keys.
package struct JSONObject: Sendable, Hashable {
    package typealias Element = (key: String, value: JSON)

    private struct Member: Sendable, Hashable {
        var key: String
        /// ``JSONObject/head(_:)`` of `key`.
        var head: UInt64
        var value: JSON

        init(key: String, head: UInt64, value: JSON) {
            self.key = key
            self.head = head
            self.value = value
        }

        init(key: String, value: JSON) {
            self.init(key: key, head: JSONObject.head(key), value: value)
        }

        /// Byte order of the keys: by head first, the bytes only when the heads are equal.
        @inline(__always)
        static func order(_ a: Member, _ b: Member) -> Int {
            if a.head != b.head { return a.head < b.head ? -1 : 1 }
            return JSONObject.compare(a.key, b.key)
        }
    }

    /// A key's first eight UTF-8 bytes as a big-endian integer, zero-padded: integers compare as the bytes do, so
    /// two keys with different heads are ordered by them; equal heads need the bytes (a longer key, or a NUL).
    package static func head(_ key: String) -> UInt64 {
        if let h = key.utf8.withContiguousStorageIfAvailable({ Self.head($0) }) { return h }
        var h: UInt64 = 0
        for (k, b) in key.utf8.prefix(8).enumerated() { h |= UInt64(b) &<< (56 &- 8 &* UInt64(k)) }
        return h
    }

    @inline(__always)
    static func head(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0
        for k in 0..<Swift.min(8, bytes.count) { h |= UInt64(bytes[k]) &<< (56 &- 8 &* UInt64(k)) }
        return h
    }

    /// Sorted by key bytes, keys distinct.
    private var members: [Member]

    package init() { self.members = [] }

    package init(minimumCapacity: Int) {
        self.members = []
        self.members.reserveCapacity(minimumCapacity)
    }

    /// From pairs in any order; a repeated key keeps its last value (as a JSON parser keeps the last member).
    package init<S: Sequence>(_ pairs: S) where S.Element == (String, JSON) {
        self.members = pairs.map { Member(key: $0.0, value: $0.1) }
        self.normalise()
    }

    /// From pairs in any order; a repeated key keeps its last value. (Unlike `Dictionary`'s initialiser of the
    /// same name, a repeated key is not a crash: keys can come from outside.)
    package init<S: Sequence>(uniqueKeysWithValues pairs: S) where S.Element == (String, JSON) {
        self.init(pairs)
    }

    package init<S: Sequence>(_ pairs: S, uniquingKeysWith combine: (JSON, JSON) throws -> JSON) rethrows
    where S.Element == (String, JSON) {
        var out = JSONObject()
        for (k, v) in pairs {
            if let old = out[k] { out[k] = try combine(old, v) } else { out[k] = v }
        }
        self = out
    }

    /// Members in document order, moved in (not copied): the parser's path. Kept as they are when the keys are
    /// already strictly increasing (every canonical row), else sorted, the last of a repeated key kept.
    /// - Parameter inKeyOrder: the caller knows the keys are strictly increasing (a record whose members were
    ///   found to be its schema's fields in canonical order): not checked again.
    init(documentOrder members: inout [(key: String, head: UInt64, value: JSON)], from base: Int,
         inKeyOrder: Bool = false)
    {
        var out: [Member] = []
        out.reserveCapacity(members.count - base)
        members.withUnsafeMutableBufferPointer { stack in
            for m in base..<stack.count {
                var value = JSON.null
                swap(&value, &stack[m].value)
                out.append(Member(key: stack[m].key, head: stack[m].head, value: value))
            }
        }
        self.members = out
        if !inKeyOrder { self.normalise() }
    }

    /// Sorts and removes repeated keys (the last one stays) unless the members are already in order.
    private mutating func normalise() {
        var sorted = true
        self.members.withUnsafeBufferPointer { m in
            for i in m.indices.dropFirst() where Member.order(m[i - 1], m[i]) >= 0 {
                sorted = false
                break
            }
        }
        if sorted { return }
        // Stable, so that among equal keys document order remains and the last can be kept.
        let order = self.members.indices.sorted { a, b in
            let c = Member.order(self.members[a], self.members[b])
            return c < 0 || (c == 0 && a < b)
        }
        var out: [Member] = []
        out.reserveCapacity(order.count)
        for i in order {
            if let last = out.last, Member.order(last, self.members[i]) == 0 {
                out[out.count - 1] = self.members[i]
            } else {
                out.append(self.members[i])
            }
        }
        self.members = out
    }

    /// Byte-order comparison of two keys: negative, zero or positive.
    @inline(__always)
    package static func compare(_ a: String, _ b: String) -> Int {
        let r = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in Self.compare(x, y) }
        }
        if let r = r.flatMap({ $0 }) { return r }
        // Not contiguous (not a native string): byte by byte.
        return a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : (a.utf8.elementsEqual(b.utf8) ? 0 : 1)
    }

    @inline(__always)
    static func compare(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Int {
        let n = Swift.min(x.count, y.count)
        if n > 0, let xb = x.baseAddress, let yb = y.baseAddress {
            let c = memcmp(xb, yb, n)
            if c != 0 { return Int(c) }
        }
        return x.count - y.count
    }

    /// Where `key` is, or where it would go.
    private func find(_ key: String) -> (index: Int, found: Bool) {
        let head = Self.head(key)
        let count = key.utf8.count
        return self.members.withUnsafeBufferPointer { m in
            var lo = 0
            var hi = m.count
            while lo < hi {
                let mid = (lo + hi) / 2
                let c: Int
                if m[mid].head != head {
                    c = m[mid].head < head ? -1 : 1
                } else if count <= 8, m[mid].key.utf8.count == count {
                    // The head holds every byte of both keys.
                    c = 0
                } else {
                    c = Self.compare(m[mid].key, key)
                }
                if c == 0 { return (mid, true) }
                if c < 0 { lo = mid + 1 } else { hi = mid }
            }
            return (lo, false)
        }
    }

    /// The member named `key`; setting nil removes it.
    package subscript(key: String) -> JSON? {
        get {
            let (i, found) = self.find(key)
            // Not `found ? value : nil`: that nil would be JSON's null literal, not an absent member.
            guard found else { return Optional<JSON>.none }
            return self.members[i].value
        }
        set {
            let (i, found) = self.find(key)
            switch (newValue, found) {
            case (let v?, true): self.members[i].value = v
            case (let v?, false): self.members.insert(Member(key: key, value: v), at: i)
            case (nil, true): self.members.remove(at: i)
            case (nil, false): break
            }
        }
    }

    package subscript(key: String, default defaultValue: @autoclosure () -> JSON) -> JSON {
        get { self[key] ?? defaultValue() }
        set { self[key] = newValue }
    }

    @discardableResult
    package mutating func removeValue(forKey key: String) -> JSON? {
        let (i, found) = self.find(key)
        guard found else { return Optional<JSON>.none }
        return self.members.remove(at: i).value
    }

    @discardableResult
    package mutating func updateValue(_ value: JSON, forKey key: String) -> JSON? {
        let old = self[key]
        self[key] = value
        return old
    }

    package mutating func reserveCapacity(_ n: Int) { self.members.reserveCapacity(n) }

    /// The keys in order.
    package var keys: [String] { self.members.map(\.key) }

    /// The values in key order.
    package var values: [JSON] { self.members.map(\.value) }

    package func mapValues(_ transform: (JSON) throws -> JSON) rethrows -> JSONObject {
        var out = self
        for i in out.members.indices { out.members[i].value = try transform(out.members[i].value) }
        return out
    }

    package func compactMapValues(_ transform: (JSON) throws -> JSON?) rethrows -> JSONObject {
        var out = JSONObject(minimumCapacity: self.members.count)
        for m in self.members {
            if let v = try transform(m.value) { out.members.append(Member(key: m.key, value: v)) }
        }
        return out
    }

    /// The members `isIncluded` keeps, as an object.
    package func filter(_ isIncluded: (Element) throws -> Bool) rethrows -> JSONObject {
        var out = JSONObject(minimumCapacity: self.members.count)
        for m in self.members where try isIncluded((m.key, m.value)) { out.members.append(m) }
        return out
    }

    /// This object with `other`'s members added; `combine` decides for keys both have.
    package func merging(_ other: JSONObject, uniquingKeysWith combine: (JSON, JSON) throws -> JSON) rethrows
        -> JSONObject
    {
        var out = self
        try out.merge(other, uniquingKeysWith: combine)
        return out
    }

    package mutating func merge(_ other: JSONObject, uniquingKeysWith combine: (JSON, JSON) throws -> JSON) rethrows {
        for m in other.members {
            if let old = self[m.key] { self[m.key] = try combine(old, m.value) } else { self[m.key] = m.value }
        }
    }
}

extension JSONObject: RandomAccessCollection {
    package var startIndex: Int { 0 }
    package var endIndex: Int { self.members.count }
    package subscript(position: Int) -> Element { (self.members[position].key, self.members[position].value) }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// A repeated key keeps its last value.
    package init(dictionaryLiteral elements: (String, JSON)...) { self.init(elements) }
}

extension JSONObject {
    /// From a dictionary (e.g. one built by code that collects by key).
    package init(_ dictionary: [String: JSON]) {
        self.members = dictionary.map { Member(key: $0.key, value: $0.value) }
        self.normalise()
    }

    /// From a dictionary of other values, each made JSON by `value`.
    package init<V>(_ dictionary: [String: V], value: (V) throws -> JSON) rethrows {
        self.members = try dictionary.map { Member(key: $0.key, value: try value($0.value)) }
        self.normalise()
    }

    /// The members whose values `transform` maps to something, as a dictionary.
    package func compactMapDictionary<V>(_ transform: (JSON) throws -> V?) rethrows -> [String: V] {
        var out: [String: V] = [:]
        for m in self.members { if let v = try transform(m.value) { out[m.key] = v } }
        return out
    }
}
