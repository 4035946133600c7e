#if canImport(Glibc)
import Glibc
#endif

/// How the data plane asks the C allocator to keep memory it frees.
///
/// Applying a full snapshot of 100k routes allocates a few hundred MB of small objects while the configuration it
/// replaces is still serving, and frees the old one afterwards. By default glibc gives freed memory at the top of
/// its heaps back to the kernel and serves large arrays from fresh mappings, so the next apply page-faults all of
/// it in again: a fifth of a snapshot decode went to the kernel zeroing pages. Keeping up to ``keep`` bytes lets
/// the next apply reuse them. The cost: after a large configuration shrinks, the process keeps its peak RSS (up
/// to that bound) instead of returning it.
package enum MemoryRetention {
    /// Free memory kept at the top of a heap before it is returned to the kernel.
    package static let keep = 1 << 30
    /// Allocations at least this large get their own mapping (glibc's largest setting on 64-bit, 32 MiB); smaller
    /// ones, such as a snapshot's arrays of 100k rows, come from the heaps and are reused.
    package static let ownMappingFrom = 32 << 20

    /// Sets both for this process (glibc only; a no-op elsewhere). Call once, early, before threads allocate much.
    /// - Returns: whether the allocator took both settings.
    @discardableResult
    package static func apply() -> Bool {
        #if canImport(Glibc)
        // `mallopt` is declared in <malloc.h>, which the Glibc module does not export: found by name instead.
        guard let process = dlopen(nil, RTLD_NOW), let symbol = dlsym(process, "mallopt") else { return false }
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        // <malloc.h>: M_TRIM_THRESHOLD is -1, M_MMAP_THRESHOLD -3; mallopt answers 1 on success.
        return mallopt(-1, Int32(Self.keep)) == 1 && mallopt(-3, Int32(Self.ownMappingFrom)) == 1
        #else
        return false
        #endif
    }
}
