import NIOCore

/// A request's `X-Request-Id`: kept from a trusted peer's request, otherwise made here (sent upstream and back to
/// the client either way).
///
/// A made id is the event loop's random prefix and a sequence number (`9f3c…e1-42`): unique within the process
/// and, with 64 random bits per loop, across restarts; made without a random draw or an allocation per request.
struct RequestID: Sendable {
    /// The id a trusted peer sent.
    var inbound: String?
    var prefix: String
    var sequence: UInt64

    /// The longest inbound id kept (a longer one is replaced).
    static let maxInbound = 200

    var string: String { self.inbound ?? self.prefix + String(self.sequence) }

    /// The id's bytes, into a head being written.
    func write(into out: inout ByteBuffer) {
        if let inbound = self.inbound {
            out.writeString(inbound)
        } else {
            out.writeString(self.prefix)
            RequestID.writeDecimal(self.sequence, into: &out)
        }
    }

    static func writeDecimal(_ value: UInt64, into out: inout ByteBuffer) {
        var divisor: UInt64 = 1
        while value / divisor >= 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            out.writeInteger(UInt8(truncatingIfNeeded: rest / divisor) &+ 0x30)
            rest %= divisor
            divisor /= 10
        }
    }

    /// Whether an inbound value may be kept: 1 to ``maxInbound`` visible ASCII bytes.
    static func acceptable<C: Collection<UInt8>>(_ bytes: C) -> Bool {
        !bytes.isEmpty && bytes.count <= Self.maxInbound && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}

/// Makes the ids of one event loop's requests. Confined to its loop.
struct RequestIDSource {
    let prefix: String
    private var next: UInt64 = 0

    init() {
        var random = SystemRandomNumberGenerator()
        let value = random.next()
        let hex = String(value, radix: 16)
        self.prefix = String(repeating: "0", count: 16 - hex.utf8.count) + hex + "-"
    }

    mutating func make(inbound: String? = nil) -> RequestID {
        self.next &+= 1
        return RequestID(inbound: inbound, prefix: self.prefix, sequence: self.next)
    }
}
