import CPCRE2

/// A route path regex in Kong's dialect, PCRE, compiled once with PCRE2 (JIT-compiled where the platform allows).
///
/// Kong's router matches `~` paths with PCRE, anchored at the start of the normalised path and without UTF mode
/// (its subject is bytes). The same engine validates a path at the admin API and matches it on the data plane, so a
/// pattern accepted by one is never refused by the other.
///
/// Immutable after `init`: the compiled code is only read by `pcre2_match`, which PCRE2 allows from several threads
/// at once; each match brings its own match data.
package final class PCRERegex: @unchecked Sendable {
    private let code: OpaquePointer
    package let pattern: String

    /// Why a pattern does not compile: PCRE2's own message and where it stopped.
    package struct CompileError: Error, Sendable, CustomStringConvertible {
        package var message: String
        package var offset: Int
        package var description: String { "\(self.message) at offset \(self.offset)" }
    }

    /// Compiles `pattern`; with `anchored`, a match must start at the subject's first byte.
    package init(_ pattern: String, anchored: Bool = true) throws(CompileError) {
        var errorCode: Int32 = 0
        var errorOffset = 0
        let options: UInt32 = anchored ? PCRE2_ANCHORED : 0
        var text = pattern
        let compiled = text.withUTF8 { bytes in
            pcre2_compile_8(bytes.baseAddress ?? UnsafePointer(bitPattern: 1), bytes.count, options, &errorCode,
                            &errorOffset, nil)
        }
        guard let compiled else {
            throw CompileError(message: Self.message(errorCode), offset: errorOffset)
        }
        // Without JIT (an unsupported CPU, a memory limit) the interpreter still matches: slower, same answers.
        _ = pcre2_jit_compile_8(compiled, PCRE2_JIT_COMPLETE)
        self.code = compiled
        self.pattern = pattern
    }

    deinit {
        pcre2_code_free_8(self.code)
    }

    /// The byte range of the first match in `subject`, or nil. PCRE2 errors (a match limit reached) count as no
    /// match: a request is never routed on a partial answer.
    package func firstMatch(in subject: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        guard let data = pcre2_match_data_create_8(1, nil) else { return nil }
        defer { pcre2_match_data_free_8(data) }
        let rc = pcre2_match_8(self.code, subject.baseAddress ?? UnsafePointer(bitPattern: 1), subject.count, 0, 0,
                               data, nil)
        // 0: matched, with more capture groups than this one-pair match data holds (the whole match is still set).
        guard rc >= 0, let ovector = pcre2_get_ovector_pointer_8(data) else { return nil }
        let start = ovector[0]
        let end = ovector[1]
        guard start != portcullis_pcre2_unset(), start <= end, end <= subject.count else { return nil }
        return start..<end
    }

    /// The byte range of the first match in `subject` (its UTF-8 bytes), or nil.
    package func firstMatch(in subject: String) -> Range<Int>? {
        var subject = subject
        return subject.withUTF8 { self.firstMatch(in: $0) }
    }

    private static func message(_ code: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBufferPointer { pcre2_get_error_message_8(code, $0.baseAddress, $0.count) }
        guard n > 0 else { return "PCRE2 error \(code)" }
        return String(decoding: buffer[..<Int(n)], as: UTF8.self)
    }
}
