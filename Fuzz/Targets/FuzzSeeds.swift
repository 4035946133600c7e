import GatewayModel
import GatewayProto
import NIOCore

/// Seeds that are easier to build than to write by hand: real cluster frames and snapshot payloads, made by the
/// encoders the control plane uses. `portcullis-fuzz --write-seeds Fuzz/Corpus` writes them.
package enum FuzzSeeds {
    /// Per target, file name and content.
    package static func generated() -> [(target: FuzzTarget, name: String, bytes: [UInt8])] {
        guard let base = FuzzFixtures.base else { return [] }
        let payload = base.canonicalBytes()
        var out: [(FuzzTarget, String, [UInt8])] = [(.snapshotPayload, "base-snapshot", payload)]

        // A delta on the base: one route changed, the consumer removed.
        var rows = ConfigRows(bodies: base.content.entities.mapValues { list in
            list.map { (id: $0["id"]?.stringValue ?? "", body: JSONWriter.string(.object($0))) }
        }, trustedIPs: base.content.trustedIPs)
        let before = rows
        if var route = base.content["routes"].first, let id = route["id"]?.stringValue {
            route["paths"] = ["/orders", "/v2/orders"]
            rows = rows.applying(deltaUpserting: "routes", id: id, body: JSONWriter.string(.object(route)))
        }
        var delta = before.delta(to: rows)
        if let consumer = base.content["consumers"].first?["id"]?.stringValue { delta.deletes["consumers"] = [consumer] }
        let deltaBytes = delta.encode()
        out.append((.snapshotPayload, "delta", deltaBytes))

        func frame(_ messages: [ClusterMessage]) -> [UInt8] {
            var buffer = ByteBuffer()
            for m in messages { ClusterFrameEncoder.write(m, into: &buffer) }
            return Array(buffer.readableBytesView)
        }
        let hash = base.hash
        let compressed = (try? Deflate.compress(payload, level: 1)) ?? []
        out.append((.clusterFrame, "hello-welcome-heartbeat", frame([
            .hello(.init(nodeID: "dp-1", hostname: "gw-1", pid: 4242, softwareVersion: "0.1.0", configVersion: 7,
                         configHash: hash, maxFrame: 64 << 20)),
            .welcome(.init(controlPlaneID: "cp-1", heartbeatIntervalMS: 5000, maxFrame: 64 << 20)),
            .heartbeat(.init(version: 7, hash: hash)),
        ])))
        out.append((.clusterFrame, "snapshot", frame([
            .snapshot(.init(version: 8, hash: hash, size: payload.count, payload: ByteBuffer(bytes: compressed))),
        ])))
        out.append((.clusterFrame, "delta-ack-nack", frame([
            .delta(.init(version: 9, hash: hash, baseVersion: 8, baseHash: hash, size: deltaBytes.count,
                         payload: ByteBuffer(bytes: deltaBytes))),
            .ack(.init(version: 9, hash: hash, applyMS: 1.25)),
            .nack(.init(version: 10, hash: hash, reason: "delta does not fit", resync: true)),
        ])))
        out.append((.clusterFrame, "error-notice", frame([
            .notice(.init(code: "snapshot_too_large", message: "over the limit", version: 11)),
            .error(.init(code: "protocol_version", message: "major 3 unsupported")),
        ])))
        return out
    }
}

extension ConfigRows {
    /// The rows with one row of `type` replaced.
    fileprivate func applying(deltaUpserting type: String, id: String, body: String) -> ConfigRows {
        var delta = ConfigDelta()
        delta.upserts[type] = [CanonicalRow(id: id, bytes: Array(body.utf8), hasher: RowHasher())]
        return self.applying(delta)
    }
}
