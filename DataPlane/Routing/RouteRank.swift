/// The priority of one way a route can match (a route with several paths has several), after Kong's
/// `traditional_compatible` rules; smaller sorts first and wins.
///
/// The last tie-break is the route id, in `String` order. ``idOrder`` carries it as a number so that comparing ranks
/// stays a few integer comparisons; two different routes whose ranks are equal in every field (possible only for
/// ids that are not canonical lowercase UUIDs) are ordered by comparing their ids (``PathIndex/Candidate``).
struct RouteRank: Comparable, Sendable {
    var kinds: Int32         // more attribute kinds first
    var headers: Int32       // more headers first
    var pathLength: Int32    // longer plain paths first
    var wildcardHost: UInt8  // plain hosts only (0) before any wildcard (1)
    var regex: UInt8         // regex paths (0) before plain ones (1)
    var regexPriority: Int64
    var idOrder: UInt128

    /// The rank every way of matching `route` starts from: a plain path of length 0.
    init(route: CompiledRoute) {
        self.kinds = Int32(clamping: route.kinds)
        self.headers = Int32(clamping: route.headers.count)
        self.pathLength = 0
        self.wildcardHost = route.wildcardHosts.isEmpty ? 0 : 1
        self.regex = 1
        self.regexPriority = 0
        self.idOrder = route.idOrder
    }

    static func < (a: RouteRank, b: RouteRank) -> Bool {
        if a.kinds != b.kinds { return a.kinds > b.kinds }
        if a.wildcardHost != b.wildcardHost { return a.wildcardHost < b.wildcardHost }
        if a.headers != b.headers { return a.headers > b.headers }
        if a.regex != b.regex { return a.regex < b.regex }
        if a.regexPriority != b.regexPriority { return a.regexPriority > b.regexPriority }
        if a.pathLength != b.pathLength { return a.pathLength > b.pathLength }
        return a.idOrder < b.idOrder
    }
}

/// Route ids as numbers that sort as the ids do.
///
/// A canonical lowercase UUID (what the control plane issues) maps to its 128-bit value: among such ids, numeric
/// order is `String` order, and no two share a number. Any other id maps to the value of the least canonical UUID
/// that sorts at or after it (`UInt128.max` when none does), so the map never contradicts `String` order: when two
/// ids' numbers differ, the smaller number belongs to the smaller id; when they are equal, the ids must be compared.
enum RouteIDOrder {
    static func key(_ id: String) -> UInt128 {
        var text = id
        // Read in place (native strings are contiguous UTF-8).
        return text.withUTF8 { utf8 in
            // Swift compares ASCII strings byte by byte; anything else after Unicode normalisation, which the
            // fallback leaves to `String` itself.
            guard utf8.allSatisfy({ $0 < 0x80 }) else { return self.keyBySearch(id) }
            return self.key(ascii: utf8)
        }
    }

    private static func key(ascii utf8: UnsafeBufferPointer<UInt8>) -> UInt128 {
        var value: UInt128 = 0  // the hex digits read so far
        var digits = 0
        var position = 0
        for c in utf8 {
            if position == 36 {
                // A UUID followed by more characters sorts just after that UUID.
                return self.successor(value, digits: digits)
            }
            if position == 8 || position == 13 || position == 18 || position == 23 {
                if c != UInt8(ascii: "-") {
                    // Before "-": the UUID continuing these digits sorts after it; past "-", every such UUID before.
                    if c < UInt8(ascii: "-") { return self.padded(value, digits: digits) }
                    return self.successor(value, digits: digits)
                }
            } else if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                value = value << 4 | UInt128(c - UInt8(ascii: "0"))
                digits += 1
            } else if c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f") {
                value = value << 4 | UInt128(c - UInt8(ascii: "a") + 10)
                digits += 1
            } else if c < UInt8(ascii: "0") {
                return self.padded(value << 4, digits: digits + 1)  // next possible character: "0"
            } else if c < UInt8(ascii: "a") {
                return self.padded(value << 4 | 10, digits: digits + 1)  // next possible character: "a"
            } else {
                return self.successor(value, digits: digits)
            }
            position += 1
        }
        // A canonical UUID, or a prefix of one: the least UUID it starts.
        return self.padded(value, digits: digits)
    }

    /// The UUID starting with the given digits, then zeros.
    private static func padded(_ value: UInt128, digits: Int) -> UInt128 {
        value << (4 * (32 - digits))
    }

    /// The least UUID after every UUID starting with the given digits.
    private static func successor(_ value: UInt128, digits: Int) -> UInt128 {
        let all: UInt128 = digits >= 32 ? .max : (1 << (4 * digits)) - 1
        return value == all ? .max : self.padded(value + 1, digits: digits)
    }

    /// The least UUID that is not less than `id`, found by binary search with `String` comparison: exact for any
    /// text, at 128 comparisons (non-ASCII ids only).
    static func keyBySearch(_ id: String) -> UInt128 {
        if self.uuid(.max) < id { return .max }
        var low: UInt128 = 0
        var high: UInt128 = .max  // uuid(high) >= id
        while low < high {
            let middle = low + (high - low) / 2
            if self.uuid(middle) < id { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The canonical lowercase UUID text of a value.
    static func uuid(_ value: UInt128) -> String {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for n in 0..<32 {
            if n == 8 || n == 12 || n == 16 || n == 20 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(truncatingIfNeeded: (value >> (4 * (31 - n))) & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
