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
    /// The decoded rows: what a delta applies to, and what the next whole snapshot's decode reuses.
    package let decoded: DecodedSnapshot
    /// The routes, compiled for matching.
    package let router: Router
    /// The services, as the proxy forwards to them.
    let services: ServiceTable
    /// Every route's plugin chain (``PluginChains``).
    package let plugins: PluginChains

    package enum Source: String, Sendable {
        case controlPlane = "control_plane"
        case cache
    }

    init(version: Int64, hash: String, decoded: DecodedSnapshot, router: Router, services: ServiceTable? = nil,
         plugins: PluginChains, appliedAt: Double, source: Source)
    {
        self.router = router
        self.services = services ?? ServiceTable(content: decoded.content)
        self.plugins = plugins
        self.version = version
        self.hash = hash
        self.content = decoded.content
        self.decoded = decoded
        self.appliedAt = appliedAt
        self.source = source
    }
}

extension AppliedConfig {
    /// The same configuration, recorded as coming from `source`.
    convenience init(from other: AppliedConfig, source: Source) {
        self.init(version: other.version, hash: other.hash, decoded: other.decoded, router: other.router,
                  services: other.services, plugins: other.plugins, appliedAt: other.appliedAt, source: source)
    }

    /// A configuration compiled from decoded content as is, without the snapshot checks (tests, benchmarks).
    package convenience init(version: Int64, decoded: DecodedSnapshot, plugins registry: PluginRegistry = .builtIn,
                             source: Source = .controlPlane) throws
    {
        self.init(version: version, hash: decoded.hash, decoded: decoded, router: try Router(content: decoded.content),
                  plugins: PluginChains(content: decoded.content, registry: registry),
                  appliedAt: Date().timeIntervalSince1970, source: source)
    }
}

/// Why a snapshot could not be applied; sent back in a NACK.
package struct ApplyError: Error, Sendable, CustomStringConvertible {
    package var description: String
    /// A delta that does not fit what this data plane serves: a whole snapshot will.
    package var resync: Bool
    init(_ description: String, resync: Bool = false) {
        self.description = description
        self.resync = resync
    }
}

/// Turns a snapshot's compressed payload into an ``AppliedConfig``: bounded inflate, SHA-256 check, decode,
/// whole-configuration validation. Runs off the event loops (it is called from a task, never a channel handler).
package enum SnapshotDecoder {
    /// - Parameters:
    ///   - previous: the configuration served now; its unchanged entities are reused, not re-parsed or
    ///     re-validated.
    ///   - registry: the plugin runtimes the chains are compiled with.
    package static func decode(
        version: Int64, hash: String, size: Int, compressed: [UInt8], maxSize: Int, source: AppliedConfig.Source,
        previous: AppliedConfig? = nil, plugins registry: PluginRegistry = .builtIn
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
        let decoded: DecodedSnapshot
        do {
            decoded = try IncrementalDecoder.decode(payload, previous: previous?.decoded)
        } catch {
            throw ApplyError("snapshot \(version) cannot be decoded: \(error.description)")
        }
        guard decoded.hash == hash else {
            throw ApplyError("snapshot \(version) hash mismatch: announced \(hash), payload hashes to \(decoded.hash)")
        }
        // Validation and route compilation read the decoded content independently: they run side by side (each
        // also spreads over the cores), and the routes are used only when the configuration is valid. Compiling
        // routes needs nothing validation guarantees (an invalid regex path is an error of its own).
        let now = Int64(Date().timeIntervalSince1970)
        let previousRouter = previous?.router
        let changedRoutes = previous == nil ? nil : decoded.fresh["routes"]
        let (problems, compiled) = Parallel.both({
            ConfigValidator.problems(decoded, now: now, fresh: previous == nil ? nil : decoded.fresh)
        }, {
            Result { () throws(RouterError) in
                try Router(content: decoded.content, previous: previousRouter, changed: changedRoutes)
            }
        })
        guard problems.isEmpty else {
            throw ApplyError("snapshot \(version) is invalid: " + problems.joined(separator: "; "))
        }
        let router: Router
        do {
            router = try compiled.get()
        } catch {
            throw ApplyError("snapshot \(version) cannot be compiled: \(error.description)")
        }
        return AppliedConfig(version: version, hash: hash, decoded: decoded, router: router,
                             plugins: PluginChains(content: decoded.content, registry: registry),
                             appliedAt: Date().timeIntervalSince1970, source: source)
    }

    /// Applies a delta to the configuration served now: checks its base, applies it, checks the result's hash,
    /// validates what changed and recompiles only the changed routes. A delta that does not fit (other base, rows
    /// missing, hash mismatch) fails with `resync`.
    package static func apply(
        delta payload: [UInt8], version: Int64, hash: String, baseHash: String, maxSize: Int, to previous: AppliedConfig
    ) throws(ApplyError) -> AppliedConfig {
        guard previous.hash == baseHash else {
            throw ApplyError("delta \(version) applies to \(baseHash.prefix(12)), this data plane serves "
                + "\(previous.hash.prefix(12))", resync: true)
        }
        guard payload.count <= maxSize else {
            throw ApplyError("delta \(version) is \(payload.count) bytes, more than the \(maxSize) bytes this data plane "
                + "accepts (--max-config-size)")
        }
        let delta: DecodedDelta
        do {
            delta = try DecodedDelta.decode(payload)
        } catch {
            throw ApplyError("delta \(version) cannot be decoded: \(error.description)")
        }
        let decoded: DecodedSnapshot
        do {
            decoded = try previous.decoded.applying(delta)
        } catch {
            throw ApplyError("delta \(version) does not apply: \(error.description)", resync: true)
        }
        guard decoded.hash == hash else {
            throw ApplyError("delta \(version) hash mismatch: announced \(hash), the result hashes to \(decoded.hash)",
                             resync: true)
        }
        let problems = ConfigValidator.deltaProblems(decoded, now: Int64(Date().timeIntervalSince1970))
        guard problems.isEmpty else {
            throw ApplyError("snapshot \(version) is invalid: " + problems.joined(separator: "; "))
        }
        let router: Router
        do {
            router = try previous.router.updated(
                removing: decoded.removed["routes"] ?? [],
                upserting: (delta.upserts["routes"] ?? []).map(\.entity))
        } catch {
            throw ApplyError("snapshot \(version) cannot be compiled: \(error.description)")
        }
        // Services and plugins untouched: the proxy's service table carries over.
        let samePlugins = delta.upserts["plugins"] == nil && delta.deletes["plugins"] == nil
        let sameServices = delta.upserts["services"] == nil && delta.deletes["services"] == nil && samePlugins
        // Plugin chains carry over unless a plugin changed, a route with its own chain moved (its service), or an
        // entity a compiled plugin reads changed (consumers, credentials, CA certificates).
        let chains = samePlugins
            && previous.plugins.survives(upsertedRoutes: (delta.upserts["routes"] ?? []).map(\.rowID),
                                         touched: Set(delta.upserts.keys).union(delta.deletes.keys))
            ? previous.plugins : PluginChains(content: decoded.content, registry: previous.plugins.registry)
        return AppliedConfig(version: version, hash: hash, decoded: decoded, router: router,
                             services: sameServices ? previous.services : nil, plugins: chains,
                             appliedAt: Date().timeIntervalSince1970, source: .controlPlane)
    }
}
