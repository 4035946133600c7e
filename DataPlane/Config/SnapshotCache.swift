import Foundation
import GatewayModel

/// The last applied snapshot on disk, so a data plane can start and serve while its control plane is down.
///
/// Two files in the cache directory: `snapshot.bin` (the compressed payload as received) and `snapshot.json`
/// (version, hash, decoded size). Each is written to a temporary file, fsynced and renamed into place, then the
/// directory is fsynced: a crash leaves either the old pair or the new one. The hash inside the metadata is
/// checked against the payload on load, so a torn pair is detected and ignored.
package struct SnapshotCache: Sendable {
    package let directory: String

    package init(directory: String) {
        self.directory = directory
    }

    var payloadPath: String { self.directory + "/snapshot.bin" }
    var metadataPath: String { self.directory + "/snapshot.json" }

    package struct Entry: Sendable {
        package var version: Int64
        package var hash: String
        package var size: Int
        package var compressed: [UInt8]

        package init(version: Int64, hash: String, size: Int, compressed: [UInt8]) {
            self.version = version
            self.hash = hash
            self.size = size
            self.compressed = compressed
        }
    }

    package func prepare() throws {
        do {
            try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw ApplyError("cannot create the cache directory \(self.directory): \(error.localizedDescription)")
        }
    }

    /// The node id kept in the cache directory (created on first use), so a restarted data plane is the same
    /// data plane for the control plane.
    package func nodeID() throws -> String {
        let path = self.directory + "/node-id"
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !id.isEmpty { return id }
        }
        let id = UUIDString.random()
        try Self.writeAtomically(Array((id + "\n").utf8), to: path, directory: self.directory)
        return id
    }

    package func store(_ entry: Entry) throws {
        try Self.writeAtomically(entry.compressed, to: self.payloadPath, directory: self.directory)
        let meta = JSONWriter.bytes([
            "version": .int(entry.version), "hash": .string(entry.hash), "size": .int(Int64(entry.size)),
            "stored_size": .int(Int64(entry.compressed.count)),
        ])
        try Self.writeAtomically(meta, to: self.metadataPath, directory: self.directory)
    }

    /// The cached snapshot, or nil when there is none or it is unreadable (reported through `problem`).
    package func load() -> (entry: Entry?, problem: String?) {
        guard FileManager.default.fileExists(atPath: self.metadataPath) else { return (nil, nil) }
        guard let metaData = FileManager.default.contents(atPath: self.metadataPath),
            let meta = try? JSONParser.parse(Array(metaData)), let version = meta["version"]?.intValue,
            let hash = meta["hash"]?.stringValue, let size = meta["size"]?.intValue
        else { return (nil, "cache metadata \(self.metadataPath) is unreadable") }
        guard let payload = FileManager.default.contents(atPath: self.payloadPath) else {
            return (nil, "cache payload \(self.payloadPath) is missing")
        }
        return (Entry(version: version, hash: hash, size: Int(size), compressed: Array(payload)), nil)
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String, directory: String) throws {
        let temp = path + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw ApplyError("cannot write \(temp): \(String(cString: strerror(errno)))") }
        var written = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return true }  // nothing to write
            while written < raw.count {
                let n = write(fd, base + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                written += n
            }
            return true
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard ok, synced else {
            unlink(temp)
            throw ApplyError("cannot write \(temp): \(String(cString: strerror(errno)))")
        }
        guard rename(temp, path) == 0 else {
            unlink(temp)
            throw ApplyError("cannot rename \(temp) to \(path): \(String(cString: strerror(errno)))")
        }
        let dfd = open(directory, O_RDONLY)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}
