@testable import DataPlane
import Testing

/// The fast lane's scanners over raw bytes: what they accept, what they leave to the full HTTP/1.1 path, and that a
/// head or body split anywhere reads the same as whole.
@Suite struct HeadScannerTests {
    static let scanner = HeadScanner(limits: ClientLimits())

    static func request(_ text: String, scanner: HeadScanner = Self.scanner) -> (RequestScan, [ScannedField]) {
        var fields: [ScannedField] = []
        let bytes = Array(text.utf8)
        let scan = bytes.withUnsafeBytes { scanner.scanRequest($0, fields: &fields) }
        return (scan, fields)
    }

    static func text(_ bytes: [UInt8], _ range: Range<Int>) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    @Test("a plain request: method, target, host, length, keep-alive, fields with their kinds and trimmed values")
    func plainRequest() throws {
        let text = "POST /a/b?c=d HTTP/1.1\r\nHost: example.com:8000\r\nX-Forwarded-For:  1.2.3.4 \r\n"
            + "Content-Length: 5\r\nConnection: keep-alive, close\r\nX-Empty:\r\n\r\nhello"
        let bytes = Array(text.utf8)
        let (scan, fields) = Self.request(text)
        guard case .head(let head) = scan else { Issue.record("not a head: \(scan)"); return }
        #expect(Self.text(bytes, head.method) == "POST")
        #expect(Self.text(bytes, head.target) == "/a/b?c=d")
        #expect(Self.text(bytes, head.host) == "example.com:8000")
        #expect(head.contentLength == 5 && head.hasContentLength && !head.keepAlive)
        #expect(head.length == text.utf8.count - 5)
        #expect(fields.map(\.kind) == [.host, .xForwardedFor, .contentLength, .connection, .other])
        #expect(Self.text(bytes, fields[1].value) == "1.2.3.4")
        #expect(Self.text(bytes, fields[1].line) == "X-Forwarded-For:  1.2.3.4 \r\n")
        #expect(fields[4].value.isEmpty)
    }

    @Test("every proper prefix of a head is incomplete, the whole head is one")
    func prefixes() {
        let text = "GET /path HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nX-Long: " + String(repeating: "v", count: 100) + "\r\n\r\n"
        let bytes = Array(text.utf8)
        for cut in 0..<bytes.count {
            var fields: [ScannedField] = []
            let scan = bytes[..<cut].withUnsafeBytes { Self.scanner.scanRequest($0, fields: &fields) }
            guard case .incomplete = scan else {
                Issue.record("prefix of \(cut) bytes: \(scan)")
                return
            }
        }
        guard case .head(let head) = Self.request(text).0 else { Issue.record("whole head"); return }
        #expect(head.length == bytes.count)
    }

    @Test("what the fast lane leaves to the full path: other versions, smuggling shapes, upgrades, limits")
    func handOffs() {
        let cases: [String] = [
            "GET / HTTP/1.0\r\nHost: h\r\n\r\n",
            "GET / HTTP/2.0\r\nHost: h\r\n\r\n",
            "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
            "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
            "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET / HTTP/1.1\nHost: h\n\n",
            "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1234567890123456789\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: x-private\r\nX-Private: 1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX-A : b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{0}b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u{7F}\r\n\r\n",
            "GET /s HTTP/1.1 extra\r\nHost: h\r\n\r\n",
            "G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /\u{E9} HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
        ]
        for text in cases {
            guard case .handOff = Self.request(text).0 else {
                Issue.record("not handed off: \(text.debugDescription) → \(Self.request(text).0)")
                continue
            }
        }
        var limits = ClientLimits()
        limits.maxHeaders = 3
        limits.maxURILength = 10
        limits.maxHeadSize = 200
        let small = HeadScanner(limits: limits)
        for text in ["GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
                     "GET /0123456789a HTTP/1.1\r\nHost: h\r\n\r\n",
                     "GET / HTTP/1.1\r\nHost: h\r\nA: " + String(repeating: "x", count: 200) + "\r\n\r\n",
                     "GET / HTTP/1.1\r\nHost: h\r\nA: " + String(repeating: "x", count: 300)]
        {
            guard case .handOff = Self.request(text, scanner: small).0 else {
                Issue.record("over a limit, not handed off: \(text.prefix(60))")
                continue
            }
        }
        guard case .head = Self.request("GET /012345678 HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", scanner: small).0
        else { Issue.record("within the limits"); return }
    }

    static func response(_ text: String, fields: inout [ScannedField]) -> ResponseScan {
        Array(text.utf8).withUnsafeBytes { HeadScanner.scanResponse($0, maxHeadSize: 1024, fields: &fields) }
    }

    @Test("response heads: framing, keep-alive, reason, LF-only lines; every prefix incomplete; invalid ones")
    func responses() {
        var fields: [ScannedField] = []
        let text = "HTTP/1.1 201 Created\r\nContent-Length: 12\r\nVia: 1.0 a\r\nConnection: x-private\r\n\r\n"
        for cut in 0..<text.utf8.count {
            guard case .incomplete = Self.response(String(text.utf8.prefix(cut))!, fields: &fields) else {
                Issue.record("prefix \(cut)")
                return
            }
        }
        guard case .head(let created) = Self.response(text, fields: &fields) else { Issue.record("head"); return }
        #expect(created.status == 201 && created.contentLength == 12 && !created.chunked && created.keepAlive)
        #expect(created.namesConnectionFields && created.length == text.utf8.count && created.reason.count == 7)
        #expect(fields.map(\.kind) == [.contentLength, .via, .connection])

        guard case .head(let chunked) = Self.response(
            "HTTP/1.1 200\r\nTransfer-Encoding: CHUNKED\r\nContent-Length: 9\r\n\r\n", fields: &fields)
        else { Issue.record("chunked"); return }
        #expect(chunked.chunked && chunked.contentLength == nil && chunked.reason.isEmpty)
        guard case .head(let old) = Self.response("HTTP/1.0 200 OK\nX: y\n\n", fields: &fields),
              case .head(let oldKept) = Self.response("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", fields: &fields),
              case .head(let closing) = Self.response("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", fields: &fields)
        else { Issue.record("versions"); return }
        #expect(!old.keepAlive && old.http10 && oldKept.keepAlive && !closing.keepAlive)

        for bad in ["HTTP/2.0 200 OK\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/1.1 099 Low\r\n\r\n", "XTTP/1.1 200 OK\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nX: a\u{1}\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 2000)]
        {
            guard case .invalid = Self.response(bad, fields: &fields) else {
                Issue.record("accepted: \(bad.prefix(60).debugDescription)")
                continue
            }
        }
    }

    @Test("a chunked body's end is found wherever the bytes are split; what follows it is not body")
    func chunkedFraming() throws {
        let body = Array("5;ext=\"v\"\r\nhello\r\n1A\r\n\(String(repeating: "z", count: 26))\r\n0\r\nT: 1\r\nU: 2\r\n\r\n".utf8)
        let after = Array("HTTP/1.1 200".utf8)
        let all = body + after
        for cut in 0...all.count {
            var framing = ChunkedFraming()
            var used = try all[..<cut].withUnsafeBytes { try framing.consume($0) }
            if !framing.isDone { used += try all[cut...].withUnsafeBytes { try framing.consume($0) } }
            #expect(framing.isDone && used == body.count, "cut \(cut): used \(used)")
        }
        // Byte by byte.
        var framing = ChunkedFraming()
        var used = 0
        for byte in all where !framing.isDone {
            used += try [byte].withUnsafeBytes { try framing.consume($0) }
        }
        #expect(framing.isDone && used == body.count)

        // Lone LFs end lines too; no trailers.
        var lf = ChunkedFraming()
        let plain = Array("3\nabc\n0\n\n".utf8)
        #expect(try plain.withUnsafeBytes { try lf.consume($0) } == plain.count && lf.isDone)

        for bad in ["zz\r\n", "\r\n", "5\r\nhelloX\r\n", "5\r\nhello\r\n0\r\nT: 1\r\u{1}", "1234567890abcdef0\r\n", "-1\r\n"] {
            var framing = ChunkedFraming()
            #expect(throws: ChunkedFraming.Failure.self, "\(bad.debugDescription)") {
                try Array(bad.utf8).withUnsafeBytes { _ = try framing.consume($0) }
            }
        }
    }

    @Test("eight-byte tests agree with byte-by-byte ones for every byte value at every position")
    func wordTests() {
        for position in 0..<8 {
            for value in 0...255 {
                var bytes = [UInt8](repeating: UInt8(ascii: "A"), count: 8)
                bytes[position] = UInt8(value)
                let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                let b = UInt8(value)
                #expect(SWAR.hasControlOrSpace(word) == (b <= 0x20 || b == 0x7F), "byte \(value) at \(position)")
                #expect(SWAR.hasByte(below: 0x20, in: word) == (b < 0x20), "byte \(value) at \(position)")
                #expect(SWAR.hasByte(0x7F, in: word) == (b == 0x7F), "byte \(value) at \(position)")
            }
        }
        // Words of several bytes of every kind at once (obs-text beside controls: no borrow hides one).
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let word = state
            let bytes = (0..<8).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) }
            #expect(SWAR.hasControlOrSpace(word) == bytes.contains { $0 <= 0x20 || $0 == 0x7F })
            #expect(SWAR.hasByte(below: 0x20, in: word) == bytes.contains { $0 < 0x20 })
        }
    }

    @Test("a long field value: a control byte anywhere refuses the line, spaces and obs-text anywhere are kept")
    func longValues() {
        let length = 1_500
        for offset in stride(from: 0, to: length, by: 7) {
            for (byte, accepted) in [(UInt8(0x01), false), (0x7F, false), (0x0B, false), (0x20, true), (0x09, true),
                                     (0xC3, true)] {
                var value = [UInt8]((0..<length).map { UInt8(ascii: "a") + UInt8($0 % 26) })
                value[offset] = byte
                let line = Array("X-Cert: ".utf8) + value + Array("\r\n".utf8)
                let field = line.withUnsafeBytes { HeadScanner.scanField($0, from: 0) }
                #expect((field != nil) == accepted, "byte \(byte) at \(offset)")
                // (Spaces and tabs at either end are optional whitespace, not value.)
                if let field, (offset != 0 && offset != length - 1) || byte > 0x20 {
                    #expect(field.value == 8..<(8 + length), "byte \(byte) at \(offset)")
                }
                let text = String(decoding: value, as: UTF8.self)
                #expect(HeaderValidity.isFieldValue(text) == (byte != 0x0D && byte != 0x0A && byte != 0x00))
            }
            for byte: UInt8 in [0x00, 0x0A, 0x0D] {
                var value = [UInt8](repeating: UInt8(ascii: "b"), count: length)
                value[offset] = byte
                #expect(!HeaderValidity.isFieldValue(String(decoding: value, as: UTF8.self)), "byte \(byte) at \(offset)")
            }
        }
    }
}
