import Foundation
import GatewayModel

/// The last applied configuration on disk, so a data plane can start and serve while its control plane is down.
///
/// A whole snapshot in two files, `snapshot.bin` (the compressed payload) and `snapshot.json` (version, hash,
/// decoded size), each written to a temporary file, fsynced and renamed into place, then the directory fsynced; and
/// `journal.bin`, the deltas applied since, appended and fsynced one by one. Loading applies the journal's deltas
/// in order, each only if its base is the configuration reached so far and its result has the announced hash, so
/// a torn pair or a torn append is detected and stops the replay there. When the journal outgrows the snapshot,
/// the data plane writes what it serves as the new whole snapshot and starts an empty journal.
package struct SnapshotCache: Sendable {
    package let directory: String

    package init(directory: String) {
        self.directory = directory
    }

    var payloadPath: String { self.directory + "/snapshot.bin" }
    var metadataPath: String { self.directory + "/snapshot.json" }
    var journalPath: String { self.directory + "/journal.bin" }

    /// One applied delta, as the journal keeps it.
    package struct JournalRecord: Sendable, Equatable {
        package var version: Int64
        package var hash: String
        package var baseVersion: Int64
        package var baseHash: String
        package var payload: [UInt8]

        package init(version: Int64, hash: String, baseVersion: Int64, baseHash: String, payload: [UInt8]) {
            self.version = version
            self.hash = hash
            self.baseVersion = baseVersion
            self.baseHash = baseHash
            self.payload = payload
        }

        /// `u32 BE record length | u32 BE header length | header JSON | payload`.
        func encoded() -> [UInt8] {
            let header = JSONWriter.bytes([
                "version": .int(self.version), "hash": .string(self.hash), "base_version": .int(self.baseVersion),
                "base_hash": .string(self.baseHash),
            ])
            var out: [UInt8] = []
            let length = 4 + header.count + self.payload.count
            out.reserveCapacity(4 + length)
            for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: length >> shift)) }
            for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: header.count >> shift)) }
            out.append(contentsOf: header)
            out.append(contentsOf: self.payload)
            return out
        }

        /// The records of a journal file, and where the last complete one ends (anything after is torn).
        static func decodeAll(_ bytes: [UInt8]) -> (records: [JournalRecord], validLength: Int) {
            func u32(_ at: Int) -> Int {
                (Int(bytes[at]) << 24) | (Int(bytes[at + 1]) << 16) | (Int(bytes[at + 2]) << 8) | Int(bytes[at + 3])
            }
            var records: [JournalRecord] = []
            var i = 0
            while i + 8 <= bytes.count {
                let length = u32(i)
                let headerLength = u32(i + 4)
                guard length >= 4 + headerLength, i + 4 + length <= bytes.count else { break }
                let headerStart = i + 8
                let payloadStart = headerStart + headerLength
                guard let header = try? JSONParser.parse(Array(bytes[headerStart..<payloadStart])),
                    let version = header["version"]?.intValue, let hash = header["hash"]?.stringValue,
                    let baseVersion = header["base_version"]?.intValue, let baseHash = header["base_hash"]?.stringValue
                else { break }
                records.append(JournalRecord(version: version, hash: hash, baseVersion: baseVersion, baseHash: baseHash,
                                             payload: Array(bytes[payloadStart..<(i + 4 + length)])))
                i += 4 + length
            }
            return (records, i)
        }
    }

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

    /// Stores a whole snapshot and empties the journal (its deltas lead to configurations this one replaces).
    package func store(_ entry: Entry) throws {
        try Self.writeAtomically(entry.compressed, to: self.payloadPath, directory: self.directory)
        let meta = JSONWriter.bytes([
            "version": .int(entry.version), "hash": .string(entry.hash), "size": .int(Int64(entry.size)),
            "stored_size": .int(Int64(entry.compressed.count)),
        ])
        try Self.writeAtomically(meta, to: self.metadataPath, directory: self.directory)
        // A crash before this unlink leaves old deltas whose bases no longer match: the replay skips them.
        if unlink(self.journalPath) == 0 { Self.syncDirectory(self.directory) }
    }

    /// Appends an applied delta to the journal (fsynced). Returns the journal's size in bytes afterwards.
    @discardableResult
    package func append(_ record: JournalRecord) throws -> Int {
        let created = !FileManager.default.fileExists(atPath: self.journalPath)
        let fd = open(self.journalPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard fd >= 0 else {
            throw ApplyError("cannot open \(self.journalPath): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = record.encoded()
        guard Self.writeAll(fd, bytes), fsync(fd) == 0 else {
            throw ApplyError("cannot append to \(self.journalPath): \(String(cString: strerror(errno)))")
        }
        if created { Self.syncDirectory(self.directory) }
        let end = lseek(fd, 0, SEEK_END)
        return end >= 0 ? Int(end) : bytes.count
    }

    /// The journal's records in order; a torn tail (a crash mid-append) is cut off so later appends follow the
    /// last complete record.
    package func loadJournal() -> [JournalRecord] {
        guard let data = FileManager.default.contents(atPath: self.journalPath) else { return [] }
        let bytes = Array(data)
        let (records, valid) = JournalRecord.decodeAll(bytes)
        if valid < bytes.count { truncate(self.journalPath, off_t(valid)) }
        return records
    }

    /// The compressed size of the cached whole snapshot.
    package func storedSize() -> Int? {
        ((try? FileManager.default.attributesOfItem(atPath: self.payloadPath))?[.size] as? NSNumber)?.intValue
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
        // The errno of the call that failed, read before anything else can overwrite it (a write failing with
        // ENOSPC is reported as such, not as what a later fsync or unlink said).
        var failure: Int32 = 0
        if !Self.writeAll(fd, bytes) {
            failure = errno
        } else if fsync(fd) != 0 {
            failure = errno
        }
        close(fd)
        guard failure == 0 else {
            unlink(temp)
            throw ApplyError("cannot write \(temp): \(String(cString: strerror(failure)))")
        }
        guard rename(temp, path) == 0 else {
            unlink(temp)
            throw ApplyError("cannot rename \(temp) to \(path): \(String(cString: strerror(errno)))")
        }
        Self.syncDirectory(directory)
    }

    static func syncDirectory(_ directory: String) {
        let dfd = open(directory, O_RDONLY)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var written = 0
        return bytes.withUnsafeBytes { raw -> Bool in
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
    }
}
