/// Serialises ``JSON`` deterministically: object keys sorted by their UTF-8 bytes, no insignificant whitespace
/// unless `pretty`, `/` never escaped, non-ASCII written as UTF-8. Equal values always give equal bytes, which is
/// what the snapshot hash relies on.
package struct JSONWriter {
    private var out: [UInt8] = []
    private let pretty: Bool

    private init(pretty: Bool, capacity: Int) {
        self.pretty = pretty
        self.out.reserveCapacity(capacity)
    }

    package static func bytes(_ value: JSON, pretty: Bool = false, capacityHint: Int = 256) -> [UInt8] {
        var w = JSONWriter(pretty: pretty, capacity: capacityHint)
        w.write(value, indent: 0)
        if pretty { w.out.append(UInt8(ascii: "\n")) }
        return w.out
    }

    package static func string(_ value: JSON, pretty: Bool = false) -> String {
        String(decoding: bytes(value, pretty: pretty), as: UTF8.self)
    }

    private mutating func newline(_ indent: Int) {
        guard self.pretty else { return }
        self.out.append(UInt8(ascii: "\n"))
        for _ in 0..<(indent * 2) { self.out.append(UInt8(ascii: " ")) }
    }

    private mutating func write(_ value: JSON, indent: Int) {
        switch value {
        case .null: self.out.append(contentsOf: "null".utf8)
        case .bool(let b): self.out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): self.out.append(contentsOf: String(i).utf8)
        case .double(let d): self.writeDouble(d)
        case .string(let s): self.writeString(s)
        case .array(let a):
            if a.isEmpty {
                self.out.append(contentsOf: "[]".utf8)
                return
            }
            self.out.append(UInt8(ascii: "["))
            for (i, e) in a.enumerated() {
                if i > 0 { self.out.append(UInt8(ascii: ",")) }
                self.newline(indent + 1)
                self.write(e, indent: indent + 1)
            }
            self.newline(indent)
            self.out.append(UInt8(ascii: "]"))
        case .object(let o):
            if o.isEmpty {
                self.out.append(contentsOf: "{}".utf8)
                return
            }
            self.out.append(UInt8(ascii: "{"))
            // Members are kept in key byte order already.
            for (i, member) in o.enumerated() {
                if i > 0 { self.out.append(UInt8(ascii: ",")) }
                self.newline(indent + 1)
                self.writeString(member.key)
                self.out.append(UInt8(ascii: ":"))
                if self.pretty { self.out.append(UInt8(ascii: " ")) }
                self.write(member.value, indent: indent + 1)
            }
            self.newline(indent)
            self.out.append(UInt8(ascii: "}"))
        }
    }

    private mutating func writeDouble(_ d: Double) {
        guard d.isFinite else {
            self.out.append(contentsOf: "null".utf8)
            return
        }
        if d.rounded() == d && abs(d) < 1e15 {
            self.out.append(contentsOf: String(Int64(d)).utf8)
        } else {
            self.out.append(contentsOf: "\(d)".utf8)
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func writeString(_ s: String) {
        self.out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): self.out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): self.out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: self.out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: self.out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: self.out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20, 0x7F:
                self.out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                self.out.append(Self.hex[Int(byte >> 4)])
                self.out.append(Self.hex[Int(byte & 0xF)])
            default: self.out.append(byte)
            }
        }
        self.out.append(UInt8(ascii: "\""))
    }
}
