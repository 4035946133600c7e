import CZlib

/// zlib compression for stored snapshots.
package enum Deflate {
    package struct Failure: Error, CustomStringConvertible {
        package var description: String
    }

    package static func compress(_ input: [UInt8], level: Int32 = 6) throws(Failure) -> [UInt8] {
        var bound = compressBound(uLong(input.count))
        var out = [UInt8](repeating: 0, count: Int(bound))
        let rc = input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                compress2(o.baseAddress, &bound, i.baseAddress, uLong(i.count), level)
            }
        }
        guard rc == Z_OK else { throw Failure(description: "zlib compress failed (\(rc))") }
        out.removeSubrange(Int(bound)...)
        return out
    }

    /// Inflates a zlib stream whose decompressed size is known (stored or announced beside it); refuses anything
    /// larger or shorter.
    ///
    /// The output grows with what actually inflates, up to `expectedSize`: a size that is only claimed (a corrupt
    /// frame announcing a gigabyte for a few bytes of payload) costs nothing until the data is there.
    package static func decompress(_ input: [UInt8], expectedSize: Int) throws(Failure) -> [UInt8] {
        guard expectedSize >= 0, expectedSize <= 1 << 31, input.count <= Int(UInt32.max) else {
            throw Failure(description: "implausible snapshot size")
        }
        var stream = z_stream()
        guard inflateInit_(&stream, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(description: "zlib inflateInit failed")
        }
        defer { inflateEnd(&stream) }
        // One byte beyond the expected size, so a longer stream shows as one.
        var out = [UInt8](repeating: 0, count: min(expectedSize, max(1 << 16, input.count * 4)) + 1)
        var produced = 0
        let problem: String? = input.withUnsafeBufferPointer { i in
            stream.next_in = UnsafeMutablePointer(mutating: i.baseAddress)
            stream.avail_in = uInt(i.count)
            while true {
                let rc = out.withUnsafeMutableBufferPointer { o in
                    stream.next_out = o.baseAddress.map { $0 + produced }
                    stream.avail_out = uInt(o.count - produced)
                    let rc = inflate(&stream, Z_NO_FLUSH)
                    produced = o.count - Int(stream.avail_out)
                    return rc
                }
                if rc == Z_STREAM_END { return produced == expectedSize ? nil : "zlib: size differs from the announced one" }
                guard rc == Z_OK || rc == Z_BUF_ERROR else { return "zlib \(rc)" }
                if produced < out.count {
                    // Room left: zlib stopped for want of input.
                    guard rc == Z_OK, stream.avail_in > 0 else { return "zlib \(rc): truncated" }
                    continue
                }
                guard out.count <= expectedSize else { return "zlib: larger than announced" }
                out.append(contentsOf: repeatElement(0, count: min(expectedSize + 1, out.count * 2) - out.count))
            }
        }
        if let problem { throw Failure(description: "stored snapshot is corrupt (\(problem))") }
        out.removeSubrange(produced...)
        return out
    }
}
