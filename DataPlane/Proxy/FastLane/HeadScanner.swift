/// One header field of a scanned head, as byte offsets from the head's first byte.
struct ScannedField {
    /// The whole line, its line end included (copied verbatim when the field is forwarded).
    var line: Range<Int>
    var name: Range<Int>
    /// The value without surrounding spaces and tabs.
    var value: Range<Int>
    var kind: FieldName
}

/// A request head the fast lane can forward as it is: HTTP/1.1, origin-form target, one Host, no body or a
/// `Content-Length` one, nothing that needs the full HTTP/1.1 path.
struct ScannedRequest {
    /// The head's length, its blank line included: the body (if any) starts here.
    var length: Int
    var method: Range<Int>
    var target: Range<Int>
    /// The `Content-Length` value (0 without one).
    var contentLength: Int
    var hasContentLength: Bool
    /// No `Connection: close`.
    var keepAlive: Bool
    /// The `Host` value.
    var host: Range<Int>
}

/// What the scanner makes of the bytes read so far.
enum RequestScan {
    /// No complete head yet; nothing seen rules the fast lane out.
    case incomplete
    case head(ScannedRequest)
    /// Not for the fast lane, well-formed or not (the full HTTP/1.1 path takes the connection from here and
    /// answers what is malformed).
    case handOff
}

/// The fast lane's request-head scanner: one pass over the bytes, no allocation (fields go to a reused array).
///
/// It accepts only what it can forward without interpretation and hands everything else to the full path, whose
/// decoder is the reference for what is malformed (RFC 9112 as llhttp applies it): anything but `HTTP/1.1`,
/// a target that is not origin-form or has bytes outside visible ASCII, a bare LF or CR, leading empty lines,
/// obs-fold, a space before a colon, control bytes in a value, `Transfer-Encoding`, a second or non-numeric
/// `Content-Length`, no or several `Host` fields, `Expect`, `Upgrade`, a `Connection` option other than `close` and
/// `keep-alive` (it would name fields to drop), and heads beyond the client limits (the full path answers
/// 414/431 for them).
struct HeadScanner {
    let maxHeadSize: Int
    let maxHeaders: Int
    let maxURILength: Int

    init(limits: ClientLimits) {
        self.maxHeadSize = limits.maxHeadSize
        self.maxHeaders = limits.maxHeaders
        self.maxURILength = limits.maxURILength
    }

    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A

    func scanRequest(_ raw: UnsafeRawBufferPointer, fields: inout [ScannedField]) -> RequestScan {
        fields.removeAll(keepingCapacity: true)
        let n = raw.count
        // The request line: method SP origin-form SP "HTTP/1.1" CRLF.
        var i = 0
        while i < n, Self.isTokenByte(raw[i]) { i += 1 }
        guard i < n else { return self.incomplete(n) }
        guard i > 0, raw[i] == Self.sp else { return .handOff }
        let method = 0..<i
        i += 1
        let targetStart = i
        while i < n, raw[i] > Self.sp, raw[i] < 0x7F { i += 1 }
        guard i < n else { return i - targetStart > self.maxURILength ? .handOff : self.incomplete(n) }
        guard raw[i] == Self.sp, i > targetStart, raw[targetStart] == UInt8(ascii: "/"),
              i - targetStart <= self.maxURILength
        else { return .handOff }
        let target = targetStart..<i
        i += 1
        let version: StaticString = "HTTP/1.1\r\n"
        let matched = version.withUTF8Buffer { expected -> Bool? in
            let available = min(expected.count, n - i)
            for k in 0..<available where raw[i + k] != expected[k] { return false }
            return available == expected.count ? true : nil
        }
        guard let matched else { return self.incomplete(n) }
        guard matched else { return .handOff }
        i += version.utf8CodeUnitCount

        var contentLength = 0
        var hasContentLength = false
        var keepAlive = true
        var host: Range<Int>?
        while true {
            guard i < n else { return self.incomplete(n) }
            if raw[i] == Self.cr {
                guard i + 1 < n else { return self.incomplete(n) }
                guard raw[i + 1] == Self.lf else { return .handOff }
                let length = i + 2
                guard let host, length <= self.maxHeadSize else { return .handOff }
                return .head(ScannedRequest(length: length, method: method, target: target,
                                            contentLength: contentLength, hasContentLength: hasContentLength,
                                            keepAlive: keepAlive, host: host))
            }
            guard fields.count < self.maxHeaders else { return .handOff }
            guard let field = Self.scanField(raw, from: i) else {
                return i >= n || self.lineIncomplete(raw, from: i) ? self.incomplete(n) : .handOff
            }
            i = field.line.upperBound
            switch field.kind {
            case .transferEncoding, .expect:
                return .handOff
            case .contentLength:
                guard !hasContentLength, let value = Self.decimal(raw, field.value) else { return .handOff }
                contentLength = value
                hasContentLength = true
            case .host:
                guard host == nil else { return .handOff }
                host = field.value
            case .connection:
                guard let close = Self.connectionCloses(raw, field.value) else { return .handOff }
                if close { keepAlive = false }
            case .hopByHop:
                if field.name.count == 7, raw[field.name].elementsEqualLowercased("upgrade") { return .handOff }
            default:
                break
            }
            fields.append(field)
        }
    }

    /// A head that is not complete yet may still become one within the limit.
    private func incomplete(_ count: Int) -> RequestScan {
        count > self.maxHeadSize ? .handOff : .incomplete
    }

    /// Whether the line from `start` simply has not arrived whole (no line end in what was read), as opposed to
    /// being something the scanner refuses.
    private func lineIncomplete(_ raw: UnsafeRawBufferPointer, from start: Int) -> Bool {
        var i = start
        while i < raw.count {
            if raw[i] == Self.lf || raw[i] == Self.cr { return raw[i] == Self.cr && i + 1 == raw.count }
            i += 1
        }
        return true
    }

    /// One `name: value CRLF` line starting at `start`, or nil when it is not one (or not complete). Values may
    /// hold visible ASCII, obs-text, spaces and tabs; no other control byte.
    static func scanField(_ raw: UnsafeRawBufferPointer, from start: Int, allowBareLF: Bool = false) -> ScannedField? {
        let n = raw.count
        var i = start
        while i < n, self.isTokenByte(raw[i]) { i += 1 }
        guard i < n, i > start, raw[i] == self.colon else { return nil }
        let name = start..<i
        i += 1
        while i < n, raw[i] == self.sp || raw[i] == self.tab { i += 1 }
        let valueStart = i
        var valueEnd = i
        while i < n {
            // Eight bytes at a time while all of them are visible ASCII or obs-text (certificate headers run to
            // kilobytes of them); the first word holding anything else goes through the byte test below.
            while i + 8 <= n, !SWAR.hasControlOrSpace(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) {
                i += 8
                valueEnd = i
            }
            guard i < n else { break }
            let byte = raw[i]
            if byte > self.sp, byte != 0x7F {
                // Visible ASCII or obs-text: the common byte, one test.
                i += 1
                valueEnd = i
                continue
            }
            if byte == self.cr || byte == self.lf { break }
            guard byte == self.sp || byte == self.tab else { return nil }
            i += 1
        }
        guard i < n else { return nil }
        let lineEnd: Int
        if raw[i] == self.cr {
            guard i + 1 < n, raw[i + 1] == self.lf else { return nil }
            lineEnd = i + 2
        } else {
            guard allowBareLF else { return nil }
            lineEnd = i + 1
        }
        let kind = FieldName(utf8: UnsafeRawBufferPointer(rebasing: raw[name]))
        return ScannedField(line: start..<lineEnd, name: name, value: valueStart..<valueEnd, kind: kind)
    }

    /// A non-negative decimal of at most 18 digits (no sign, no spaces inside), or nil.
    static func decimal(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty, range.count <= 18 else { return nil }
        var value = 0
        for i in range {
            let byte = raw[i]
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }

    /// Whether a `Connection` value says `close`; nil when it names anything other than `close` / `keep-alive`.
    static func connectionCloses(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool? {
        var close = false
        var result: Bool? = false
        self.forEachToken(raw, range) { token in
            let bytes = raw[token]
            if bytes.elementsEqualLowercased("close") {
                close = true
            } else if !bytes.elementsEqualLowercased("keep-alive") {
                result = nil
            }
        }
        return result == nil ? nil : close
    }

    /// Calls `body` with each non-empty comma-separated element of a list value, spaces and tabs trimmed.
    static func forEachToken(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>, _ body: (Range<Int>) -> Void) {
        var start = range.lowerBound
        while start < range.upperBound {
            var end = start
            while end < range.upperBound, raw[end] != UInt8(ascii: ",") { end += 1 }
            var lower = start
            var upper = end
            while lower < upper, raw[lower] == self.sp || raw[lower] == self.tab { lower += 1 }
            while upper > lower, raw[upper - 1] == self.sp || raw[upper - 1] == self.tab { upper -= 1 }
            if lower < upper { body(lower..<upper) }
            start = end + 1
        }
    }

    /// Whether two byte sequences are equal with ASCII letters folded (header names, `Connection` options).
    static func equalIgnoringCase<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { x, y in
            (x >= 0x41 && x <= 0x5A ? x | 0x20 : x) == (y >= 0x41 && y <= 0x5A ? y | 0x20 : y)
        }
    }

    /// `tchar` of RFC 9110 §5.6.2.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        tokenBytes[Int(byte)]
    }

    private static let tokenBytes: [Bool] = (0..<256).map { value in
        let byte = UInt8(value)
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

/// A response head from an upstream, as the fast lane relays it.
struct ScannedResponse {
    var length: Int
    var status: Int
    /// The reason phrase (possibly empty).
    var reason: Range<Int>
    /// HTTP/1.0 (keep-alive only when asked for).
    var http10: Bool
    var contentLength: Int?
    var chunked: Bool
    /// The upstream connection can carry another request after this response.
    var keepAlive: Bool
    /// `Connection` options other than `close` / `keep-alive`: fields hop-by-hop for this message only.
    var namesConnectionFields: Bool
}

enum ResponseScan {
    case incomplete
    case head(ScannedResponse)
    /// Not a response the proxy can relay: Kong's 502.
    case invalid
}

extension HeadScanner {
    /// Scans an upstream's response head: `HTTP/1.x SSS reason`, fields, blank line. A single LF ends a line too
    /// (RFC 9112 §2.2 allows a recipient to accept it; the response side is the upstream's, not a client's).
    /// Conflicting lengths, a transfer coding other than `chunked`, obs-fold and control bytes are invalid.
    static func scanResponse(_ raw: UnsafeRawBufferPointer, maxHeadSize: Int, fields: inout [ScannedField])
        -> ResponseScan
    {
        fields.removeAll(keepingCapacity: true)
        let n = raw.count
        func incomplete() -> ResponseScan { n > maxHeadSize ? .invalid : .incomplete }
        guard n >= 13 else {
            // Not even a status line yet: at least check what is there.
            let prefix: StaticString = "HTTP/1."
            let ok = prefix.withUTF8Buffer { expected in
                (0..<min(n, expected.count)).allSatisfy { raw[$0] == expected[$0] }
            }
            return ok ? .incomplete : .invalid
        }
        let prefix: StaticString = "HTTP/1."
        let prefixOK = prefix.withUTF8Buffer { expected in (0..<expected.count).allSatisfy { raw[$0] == expected[$0] } }
        guard prefixOK, raw[7] == 0x30 || raw[7] == 0x31, raw[8] == self.sp else { return .invalid }
        let http10 = raw[7] == 0x30
        var status = 0
        for k in 9..<12 {
            guard raw[k] >= 0x30, raw[k] <= 0x39 else { return .invalid }
            status = status * 10 + Int(raw[k] - 0x30)
        }
        guard status >= 100 else { return .invalid }
        var i = 12
        var reason = 12..<12
        if raw[i] == self.sp {
            i += 1
            let start = i
            while i < n, raw[i] != self.cr, raw[i] != self.lf {
                guard raw[i] >= self.sp || raw[i] == self.tab, raw[i] != 0x7F else { return .invalid }
                i += 1
            }
            reason = start..<i
        }
        guard let afterLine = self.lineEnd(raw, at: i) else { return i >= n - 1 ? incomplete() : .invalid }
        i = afterLine

        var contentLength: Int?
        var chunked = false
        var close = false
        var keepAliveAsked = false
        var named = false
        while true {
            guard i < n else { return incomplete() }
            if raw[i] == self.cr || raw[i] == self.lf {
                guard let end = self.lineEnd(raw, at: i) else { return i + 1 >= n ? incomplete() : .invalid }
                if chunked { contentLength = nil }
                let keepAlive = !close && (!http10 || keepAliveAsked)
                return .head(ScannedResponse(length: end, status: status, reason: reason, http10: http10,
                                             contentLength: contentLength, chunked: chunked, keepAlive: keepAlive,
                                             namesConnectionFields: named))
            }
            guard fields.count < 1024, let field = self.scanField(raw, from: i, allowBareLF: true) else {
                // An unfinished line is simply not here yet; a finished one that does not scan is invalid.
                var k = i
                while k < n, raw[k] != self.lf { k += 1 }
                return k >= n ? incomplete() : .invalid
            }
            i = field.line.upperBound
            switch field.kind {
            case .contentLength:
                guard let value = self.decimal(raw, field.value), contentLength == nil || contentLength == value
                else { return .invalid }
                contentLength = value
            case .transferEncoding:
                // Only `chunked` is relayed (and it must be the only coding).
                guard raw[field.value].elementsEqualLowercased("chunked"), !chunked else { return .invalid }
                chunked = true
            case .connection:
                self.forEachToken(raw, field.value) { token in
                    let bytes = raw[token]
                    if bytes.elementsEqualLowercased("close") {
                        close = true
                    } else if bytes.elementsEqualLowercased("keep-alive") {
                        keepAliveAsked = true
                    } else {
                        named = true
                    }
                }
            default:
                break
            }
            fields.append(field)
        }
    }

    /// The index after the line end (CRLF or a lone LF) at `i`, or nil.
    private static func lineEnd(_ raw: UnsafeRawBufferPointer, at i: Int) -> Int? {
        guard i < raw.count else { return nil }
        if raw[i] == self.lf { return i + 1 }
        guard raw[i] == self.cr, i + 1 < raw.count, raw[i + 1] == self.lf else { return nil }
        return i + 2
    }
}

/// Finds where a chunked body ends (RFC 9112 §7.1) in the bytes relayed through it, without copying them: sizes
/// are parsed, data is skipped, trailer lines are skipped up to the blank line. A line end is CRLF or a lone LF.
struct ChunkedFraming {
    enum Failure: Error {
        case invalid
    }

    private enum State {
        case size
        case extensions
        case sizeLF
        case data(Int)
        case dataCR
        case dataLF
        case trailerStart
        case trailer
        case trailerLF(last: Bool)
        case done
    }

    private var state = State.size
    private var size = 0
    private var digits = 0

    var isDone: Bool {
        if case .done = self.state { return true }
        return false
    }

    /// Consumes `raw` (relayed) and returns how many of its bytes belong to the body: fewer than `raw.count` only
    /// when the body ended inside it.
    mutating func consume(_ raw: UnsafeRawBufferPointer) throws(Failure) -> Int {
        var i = 0
        let n = raw.count
        while i < n {
            let byte = raw[i]
            switch self.state {
            case .size:
                if let digit = Self.hexValue(byte) {
                    guard self.digits < 15 else { throw .invalid }
                    self.size = self.size << 4 | digit
                    self.digits += 1
                } else if self.digits > 0, byte == UInt8(ascii: ";") || byte == HeadScanner.sp || byte == HeadScanner.tab {
                    self.state = .extensions
                } else if self.digits > 0, byte == HeadScanner.cr {
                    self.state = .sizeLF
                } else if self.digits > 0, byte == HeadScanner.lf {
                    self.sizeLineEnded()
                } else {
                    throw .invalid
                }
            case .extensions:
                if byte == HeadScanner.cr {
                    self.state = .sizeLF
                } else if byte == HeadScanner.lf {
                    self.sizeLineEnded()
                } else if byte < HeadScanner.sp && byte != HeadScanner.tab {
                    throw .invalid
                }
            case .sizeLF:
                guard byte == HeadScanner.lf else { throw .invalid }
                self.sizeLineEnded()
            case .data(let remaining):
                let take = min(remaining, n - i)
                i += take
                self.state = remaining == take ? .dataCR : .data(remaining - take)
                continue
            case .dataCR:
                if byte == HeadScanner.cr {
                    self.state = .dataLF
                } else if byte == HeadScanner.lf {
                    self.state = .size
                } else {
                    throw .invalid
                }
            case .dataLF:
                guard byte == HeadScanner.lf else { throw .invalid }
                self.state = .size
            case .trailerStart:
                if byte == HeadScanner.cr {
                    self.state = .trailerLF(last: true)
                } else if byte == HeadScanner.lf {
                    self.state = .done
                    return i + 1
                } else if byte < HeadScanner.sp && byte != HeadScanner.tab {
                    throw .invalid
                } else {
                    self.state = .trailer
                }
            case .trailer:
                if byte == HeadScanner.cr {
                    self.state = .trailerLF(last: false)
                } else if byte == HeadScanner.lf {
                    self.state = .trailerStart
                } else if byte < HeadScanner.sp && byte != HeadScanner.tab {
                    throw .invalid
                }
            case .trailerLF(let last):
                guard byte == HeadScanner.lf else { throw .invalid }
                if last {
                    self.state = .done
                    return i + 1
                }
                self.state = .trailerStart
            case .done:
                return i
            }
            i += 1
        }
        return n
    }

    private mutating func sizeLineEnded() {
        self.state = self.size == 0 ? .trailerStart : .data(self.size)
        self.size = 0
        self.digits = 0
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: Int(byte - 0x30)
        case 0x41...0x46: Int(byte - 0x41 + 10)
        case 0x61...0x66: Int(byte - 0x61 + 10)
        default: nil
        }
    }
}

/// Byte tests on eight bytes at once (a `UInt64` loaded from a buffer).
enum SWAR {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Whether some byte of `word` is below `bound` (1...128). Exact: bytes at or above 0x80 never count.
    @inline(__always)
    static func hasByte(below bound: UInt8, in word: UInt64) -> Bool {
        (word &- Self.ones &* UInt64(bound)) & ~word & Self.highs != 0
    }

    /// Whether some byte of `word` equals `byte`.
    @inline(__always)
    static func hasByte(_ byte: UInt8, in word: UInt64) -> Bool {
        Self.hasByte(below: 1, in: word ^ (Self.ones &* UInt64(byte)))
    }

    /// Whether some byte of `word` is a control byte, a space or DEL: anything but visible ASCII and obs-text.
    @inline(__always)
    static func hasControlOrSpace(_ word: UInt64) -> Bool {
        Self.hasByte(below: 0x21, in: word) || Self.hasByte(0x7F, in: word)
    }
}
