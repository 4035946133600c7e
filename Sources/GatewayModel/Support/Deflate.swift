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

    /// Inflates a zlib stream whose decompressed size is known (stored beside it); refuses anything larger.
    package static func decompress(_ input: [UInt8], expectedSize: Int) throws(Failure) -> [UInt8] {
        guard expectedSize >= 0, expectedSize <= 1 << 31 else { throw Failure(description: "implausible snapshot size") }
        var outLen = uLong(expectedSize)
        var out = [UInt8](repeating: 0, count: max(expectedSize, 1))
        let rc = input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                uncompress(o.baseAddress, &outLen, i.baseAddress, uLong(i.count))
            }
        }
        guard rc == Z_OK, Int(outLen) == expectedSize else {
            throw Failure(description: "stored snapshot is corrupt (zlib \(rc))")
        }
        out.removeSubrange(Int(outLen)...)
        return out
    }
}
