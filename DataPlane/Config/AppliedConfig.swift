import Foundation
package import GatewayModel

/// A snapshot the data plane serves: decoded, validated, compiled once, never mutated. Requests take the one
/// current when they start and keep it.
package final class AppliedConfig: Sendable {
    package let version: Int64
    package let hash: String
    package let content: ConfigContent
    /// Seconds since the epoch.
    package let appliedAt: Double
    /// Where it came from: the control plane or the on-disk cache.
    package let source: Source

    package enum Source: String, Sendable {
        case controlPlane = "control_plane"
        case cache
    }

    package init(version: Int64, hash: String, content: ConfigContent, appliedAt: Double, source: Source) {
        self.version = version
        self.hash = hash
        self.content = content
        self.appliedAt = appliedAt
        self.source = source
    }
}

/// Why a snapshot could not be applied; sent back in a NACK.
package struct ApplyError: Error, Sendable, CustomStringConvertible {
    package var description: String
    init(_ description: String) { self.description = description }
}

/// Turns a snapshot's compressed payload into an ``AppliedConfig``: bounded inflate, SHA-256 check, decode,
/// whole-configuration validation. Runs off the event loops (it is called from a task, never a channel handler).
package enum SnapshotDecoder {
    package static func decode(
        version: Int64, hash: String, size: Int, compressed: [UInt8], maxSize: Int, source: AppliedConfig.Source
    ) throws(ApplyError) -> AppliedConfig {
        guard size <= maxSize else {
            throw ApplyError("snapshot \(version) is \(size) bytes decoded, more than the \(maxSize) bytes this data plane accepts (--max-config-size)")
        }
        let payload: [UInt8]
        do {
            payload = try Deflate.decompress(compressed, expectedSize: size)
        } catch {
            throw ApplyError("snapshot \(version) payload cannot be inflated: \(error.description)")
        }
        let actual = Digest.sha256Hex(payload)
        guard actual == hash else {
            throw ApplyError("snapshot \(version) hash mismatch: announced \(hash), payload hashes to \(actual)")
        }
        let content: ConfigContent
        do {
            content = try ConfigContent.decode(payload)
        } catch {
            throw ApplyError("snapshot \(version) cannot be decoded: \(error.description)")
        }
        let problems = ConfigValidator.problems(content, now: Int64(Date().timeIntervalSince1970))
        guard problems.isEmpty else {
            throw ApplyError("snapshot \(version) is invalid: " + problems.joined(separator: "; "))
        }
        return AppliedConfig(version: version, hash: hash, content: content, appliedAt: Date().timeIntervalSince1970,
                             source: source)
    }
}
