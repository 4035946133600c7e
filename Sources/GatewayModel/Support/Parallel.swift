import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Splitting CPU-bound work over the machine's cores (snapshot decode and validation of 100k-entity
/// configurations). Callers run off the event loops; small inputs stay on the calling thread.
package enum Parallel {
    /// Cores to use.
    static let width = max(1, min(8, System.activeCores))

    /// `transform` applied to every index of `0..<count`, results in order. `transform` gets its chunk's
    /// per-thread state from `makeState` (e.g. a hasher), created once per chunk.
    package static func map<State, T: Sendable>(
        _ count: Int, minimumPerChunk: Int = 2048, makeState: @Sendable () -> State,
        _ transform: @Sendable (inout State, Int) -> T
    ) -> [T] {
        // A few chunks per core: a core that falls behind (a busy machine) leaves its later chunks to the others.
        let chunks = min(Self.width * 4, max(1, count / max(1, minimumPerChunk)))
        if chunks <= 1 {
            var state = makeState()
            return (0..<count).map { transform(&state, $0) }
        }
        let per = (count + chunks - 1) / chunks
        // Each chunk initialises its own range of the result in place: no per-chunk arrays joined (and every
        // element copied) afterwards.
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            let out = UncheckedSendable(buffer)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                guard let base = out.value.baseAddress else { return }
                var state = makeState()
                let range = min(count, c * per)..<min(count, (c + 1) * per)
                for i in range { (base + i).initialize(to: transform(&state, i)) }
            }
            initialized = count
        }
    }
}

extension Parallel {
    /// `first` and `second` run side by side, for independent phases whose serial parts would otherwise leave a
    /// core idle: `second` on a global queue, `first` on the calling thread, which then waits for `second`. Each
    /// may spread over the cores itself (``map(_:minimumPerChunk:makeState:_:)``): neither runs inside the other's
    /// `concurrentPerform`, which would make it serial. One core: one after the other.
    package static func both<A, B: Sendable>(_ first: () -> A, _ second: @Sendable () -> B) -> (A, B) {
        if Self.width < 2 { return (first(), second()) }
        let slot = Slot<B>()
        let group = DispatchGroup()
        return withoutActuallyEscaping(second) { second in
            DispatchQueue.global().async(group: group) { slot.value = second() }
            let a = first()
            group.wait()  // `second` has run and written its slot: the wait orders that write before this read
            return (a, slot.value ?? second())
        }
    }

    /// Where the queued half of ``both(_:_:)`` leaves its result; written once, read after the wait.
    private final class Slot<T>: @unchecked Sendable {
        var value: T?
    }
}

/// A value handed to concurrent chunks that touch disjoint parts of it.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

enum System {
    static var activeCores: Int {
        #if canImport(Glibc)
        return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
        return 1
        #endif
    }
}
