import Foundation
import GatewayModel

/// A minimal HTTP client for the admin API: each request is one `curl` run (only ever against 127.0.0.1).
///
/// Foundation's URLSession is incomplete on Linux and AsyncHTTPClient is not a dependency of this target; curl is
/// installed by `make test` (see the Makefile's APT_PACKAGES).
struct AdminHTTP: Sendable {
    struct Reply: CustomStringConvertible {
        var status: Int
        var body: String

        var json: JSON? { try? JSONParser.parse(self.body) }
        var description: String { "HTTP \(self.status): \(self.body)" }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let baseURL: String
    /// Headers sent with every request (e.g. the admin token).
    var headers: [String: String] = [:]

    static let curl = URL(fileURLWithPath: "/usr/bin/curl")

    func send(
        _ method: String, _ path: String, body: String? = nil, contentType: String = "application/json",
        headers extra: [String: String] = [:]
    ) async throws -> Reply {
        let scratch = try TempDir()
        var args = ["-sS", "--noproxy", "*", "--max-time", "30", "-X", method, "-w", "\n%{http_code}"]
        for (k, v) in self.headers.merging(extra, uniquingKeysWith: { _, b in b }) { args += ["-H", "\(k): \(v)"] }
        if let body {
            let file = try scratch.write("body", body)
            args += ["-H", "Content-Type: \(contentType)", "--data-binary", "@\(file)"]
        }
        args.append(self.baseURL + path)
        let result = try await Subprocess.run(Self.curl, args, timeout: .seconds(40))
        guard result.status == 0, let newline = result.stdout.lastIndex(of: "\n"),
              let status = Int(result.stdout[result.stdout.index(after: newline)...])
        else {
            throw Failure(description: "curl \(method) \(path) failed: \(result)")
        }
        return Reply(status: status, body: String(result.stdout[..<newline]))
    }

    func get(_ path: String) async throws -> Reply { try await self.send("GET", path) }

    /// Sends and requires the given status, failing with the server's answer otherwise.
    @discardableResult
    func expect(
        _ status: Int, _ method: String, _ path: String, body: String? = nil, contentType: String = "application/json"
    ) async throws -> JSON {
        let reply = try await self.send(method, path, body: body, contentType: contentType)
        guard reply.status == status else {
            throw Failure(description: "\(method) \(path): expected \(status), got \(reply)")
        }
        if reply.body.isEmpty { return .null }
        guard let json = reply.json else { throw Failure(description: "\(method) \(path): not JSON: \(reply.body)") }
        return json
    }

    /// Polls `GET /status` until the newest committed version has its snapshot; returns that status.
    @discardableResult
    func waitInSync(timeout: Duration = .seconds(30)) async throws -> JSON {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var last: JSON = .null
        while clock.now < deadline {
            last = try await self.expect(200, "GET", "/status")
            if last["in_sync"]?.boolValue == true { return last }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw Failure(description: "not in sync after \(timeout): \(JSONWriter.string(last))")
    }

    /// The names (endpoint keys) of a collection's first page.
    func names(_ path: String, key: String = "name") async throws -> Set<String> {
        let json = try await self.expect(200, "GET", path)
        return Set((json["data"]?.arrayValue ?? []).compactMap { $0[key]?.stringValue })
    }
}
