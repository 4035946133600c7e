import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a program to completion with a bounded wait; stdout and stderr go to files (no pipe can fill up and block
/// the child), stdin is /dev/null.
enum Subprocess {
    struct Result: CustomStringConvertible {
        var status: Int32
        /// `.exit` for a normal exit, `.uncaughtSignal` for a crash or a kill.
        var reason: Process.TerminationReason
        var stdout: String
        var stderr: String

        var exitedNormally: Bool { self.reason == .exit }
        var description: String {
            "status \(self.status) (\(self.reason == .exit ? "exit" : "signal"))\n--- stdout\n\(self.stdout)\n--- stderr\n\(self.stderr)"
        }
    }

    struct Timeout: Error, CustomStringConvertible {
        var description: String
    }

    /// The current environment without any `PORTCULLIS_*` variable, plus `extra`.
    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PORTCULLIS_") }
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// Starts a process with no standard input and the given output files.
    static func spawn(
        _ executable: URL, _ arguments: [String], environment: [String: String], workingDirectory: URL?,
        output: FileHandle, error: FileHandle
    ) throws -> Process {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = error
        try process.run()
        return process
    }

    static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String] = Subprocess.environment(),
        workingDirectory: URL? = nil, timeout: Duration = .seconds(60)
    ) async throws -> Result {
        let scratch = try TempDir()
        let outPath = scratch.path("stdout")
        let errPath = scratch.path("stderr")
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        defer {
            try? out.close()
            try? err.close()
        }
        let process = try self.spawn(executable, arguments, environment: environment,
                                     workingDirectory: workingDirectory, output: out, error: err)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while process.isRunning {
            if clock.now > deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                let log = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
                throw Timeout(description: "\(executable.lastPathComponent) \(arguments.joined(separator: " ")) did not "
                    + "finish within \(timeout)\n\(log)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, reason: process.terminationReason,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }
}
