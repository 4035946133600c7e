import GatewayModel
import GatewayProto
import NIOCore

/// What a data plane (or the control plane) reads from the cluster socket.
enum ClusterTargets {
    /// The frame limit both sides announce by default (Proto/PROTOCOL.md), and the data plane's
    /// `--max-config-size` default checked before inflating.
    static let maxFrame = 64 << 20
    static let maxConfigSize = 256 << 20

    /// Splits the input into frames with the decoder the socket uses, decodes every message and, for snapshots and
    /// deltas, the payload as a data plane applies it (without the hash check, so validation is reached too).
    /// Every decoded message must survive being written and read again unchanged.
    static func frames(_ input: [UInt8]) -> FuzzOutcome {
        var buffer = ByteBuffer(bytes: input)
        let decoder = ClusterFrameDecoder(maxFrameSize: self.maxFrame)
        var outcome = FuzzOutcome.accepted
        while true {
            let message: ClusterMessage
            do {
                guard let next = try decoder.next(&buffer) else { break }
                message = next
            } catch {
                return .refused(error.description)
            }
            var again = ByteBuffer()
            ClusterFrameEncoder.write(message, into: &again)
            let reread = Result { () throws(FrameError) in try decoder.next(&again) }
            invariant(reread == .success(message), "\(message.kind) frame changed when written and read again")
            switch message {
            case .snapshot(let s):
                guard s.size <= self.maxConfigSize else { outcome = .refused("snapshot over the size limit"); continue }
                do {
                    let payload = try Deflate.decompress(Array(s.payload.readableBytesView), expectedSize: s.size)
                    if case .refused(let why) = self.payload(payload), outcome == .accepted { outcome = .refused(why) }
                } catch {
                    outcome = .refused(error.description)
                }
            case .delta(let d):
                if case .refused(let why) = self.delta(Array(d.payload.readableBytesView)), outcome == .accepted {
                    outcome = .refused(why)
                }
            default:
                break
            }
        }
        return buffer.readableBytes == 0 ? outcome : .refused("truncated frame at the end")
    }

    /// A canonical snapshot payload (whole, then reusing the base snapshot's rows) or a delta on the base; what
    /// decodes is validated as a data plane validates it.
    static func payload(_ input: [UInt8]) -> FuzzOutcome {
        guard input.first == UInt8(ascii: "{") else { return .refused("not a JSON object") }
        if input.starts(with: Array(#"{"delete""#.utf8)) || input.starts(with: Array(#"{"upsert""#.utf8)) {
            return self.delta(input)
        }
        let whole: DecodedSnapshot
        do {
            whole = try IncrementalDecoder.decode(input, previous: nil)
        } catch {
            return .refused(error.description)
        }
        if let base = FuzzFixtures.base {
            // Reusing rows must give the very same configuration as parsing all of them.
            let reused = Result { () throws(ConfigContent.DecodeError) in
                try IncrementalDecoder.decode(input, previous: base)
            }
            invariant((try? reused.get())?.hash == whole.hash, "decoding with a previous snapshot changed the hash")
        }
        let problems = ConfigValidator.problems(whole, now: FuzzFixtures.now)
        return problems.isEmpty ? .accepted : .refused(problems.joined(separator: "; "))
    }

    /// A delta payload applied to the base snapshot, then validated as a data plane validates deltas.
    static func delta(_ input: [UInt8]) -> FuzzOutcome {
        guard let base = FuzzFixtures.base else { return .refused("no base snapshot") }
        do {
            let delta = try DecodedDelta.decode(input)
            invariant((try? DecodedDelta.decode(delta.canonical.encode()))?.canonical == delta.canonical,
                      "delta changed when encoded and decoded again")
            let applied = try base.applying(delta)
            let problems = ConfigValidator.deltaProblems(applied, now: FuzzFixtures.now)
            return problems.isEmpty ? .accepted : .refused(problems.joined(separator: "; "))
        } catch {
            return .refused(error.description)
        }
    }
}
