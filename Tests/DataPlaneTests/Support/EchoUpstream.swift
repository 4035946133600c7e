import Foundation
import NIOPosix
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `scripts/echo-upstream.py` on 127.0.0.1 with an OS-assigned port; killed on deinit.
final class EchoUpstream: @unchecked Sendable {
    let process: Process
    let port: Int

    private init(process: Process, port: Int) {
        self.process = process
        self.port = port
    }

    static func start() async throws -> EchoUpstream {
        try await NIOThreadPool.singleton.runIfActive { try self.startNow() }
    }

    private static func startNow() throws -> EchoUpstream {
        var root = URL(fileURLWithPath: #filePath)
        while root.path != "/" {
            root.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path) { break }
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", root.appendingPathComponent("scripts/echo-upstream.py").path, "0"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let marker = "upstream listening on 127.0.0.1:"
        var text = ""
        let handle = pipe.fileHandleForReading
        while !text.contains("\n") {
            let data = handle.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        guard let range = text.range(of: marker), let port = Int(text[range.upperBound...].prefix { $0.isNumber })
        else {
            process.terminate()
            throw RawHTTPClient.Failure(description: "echo upstream did not start: \(text)")
        }
        return EchoUpstream(process: process, port: port)
    }

    /// `{"connections": C, "requests": R}` asked directly.
    func requests() async throws -> Int {
        let client = try RawHTTPClient(port: self.port)
        try await client.request("GET", "/__stats", close: true)
        let text = try await client.read().text
        guard let range = text.range(of: "\"requests\": "),
              let n = Int(text[range.upperBound...].prefix { $0.isNumber })
        else { throw RawHTTPClient.Failure(description: "bad stats: \(text)") }
        return n
    }

    deinit {
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
            self.process.waitUntilExit()
        }
    }
}
