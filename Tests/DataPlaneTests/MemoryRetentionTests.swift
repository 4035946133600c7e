import DataPlane
import Testing

@Suite struct MemoryRetentionTests {
    /// glibc takes both settings (`mallopt` found by name, the values within its limits).
    @Test func theAllocatorTakesTheSettings() {
        #if canImport(Glibc)
        #expect(MemoryRetention.apply())
        #endif
    }
}
