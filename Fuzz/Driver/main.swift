// portcullis-fuzz: one binary for every fuzz target (FuzzTarget).
//
// Built by `make fuzz` (PORTCULLIS_FUZZ set, so Package.swift adds -sanitize=fuzzer), it hands the command line to
// libFuzzer:      portcullis-fuzz <target> [libFuzzer options] [corpus directories]
// Built normally (make test, swift build), it replays inputs instead, e.g. a crash file libFuzzer saved:
//                 portcullis-fuzz <target> <file or directory>...
// and writes the generated seeds:  portcullis-fuzz --write-seeds Fuzz/Corpus
import Foundation
import FuzzTargets

nonisolated(unsafe) var selected = FuzzTarget.json

/// libFuzzer's entry point: one input for the selected target.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    _ = selected.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}

func usage() -> Never {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
    FileHandle.standardError.write(Data("""
        usage: portcullis-fuzz <target> [libFuzzer options | inputs...]
               portcullis-fuzz --write-seeds <corpus directory>
        targets: \(names)

        """.utf8))
    exit(2)
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else { usage() }
if arguments[1] == "--write-seeds", arguments.count == 3 {
    let root = URL(fileURLWithPath: arguments[2])
    for (target, name, bytes) in FuzzSeeds.generated() {
        let dir = root.appendingPathComponent(target.rawValue)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(bytes).write(to: dir.appendingPathComponent(name))
        print("\(target.rawValue)/\(name): \(bytes.count) bytes")
    }
    exit(0)
}
guard let target = FuzzTarget(rawValue: arguments[1]) else { usage() }
selected = target

#if PORTCULLIS_FUZZ
typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(_ argc: UnsafeMutablePointer<CInt>,
               _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
               _ callback: FuzzCallback) -> CInt

// libFuzzer sees the command line without the target name.
var argv: [UnsafeMutablePointer<CChar>?] = [CommandLine.unsafeArgv[0]]
for i in 2..<Int(CommandLine.argc) { argv.append(CommandLine.unsafeArgv[i]) }
argv.append(nil)
var argc = CInt(argv.count - 1)
let status = argv.withUnsafeMutableBufferPointer { buffer in
    var base = buffer.baseAddress
    return runDriver(&argc, &base, fuzz)
}
exit(status)
#else
// Replay: every file given, and every file in every directory given.
var failures = 0
for path in arguments.dropFirst(2) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        FileHandle.standardError.write(Data("\(path): no such file\n".utf8))
        failures += 1
        continue
    }
    let files = isDirectory.boolValue
        ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" }
        : [path]
    for file in files {
        guard let data = FileManager.default.contents(atPath: file) else { continue }
        print("\(file): \(target.run([UInt8](data)))")
    }
}
exit(failures == 0 ? 0 : 1)
#endif
