import ArgumentParser
import AsyncHTTPClient
import Foundation
import GatewayModel
import NIOCore
import NIOHTTP1

/// Options shared by every command that talks to the admin API.
struct AdminOptions: ParsableArguments {
    @Option(help: ArgumentHelp(Environment.help("Admin API base URL", "admin-url")))
    var adminURL: String = Environment.string("admin-url", default: "http://127.0.0.1:8001")

    @Option(help: ArgumentHelp(Environment.help("Admin token, when the control plane requires one", "admin-token")))
    var adminToken: String?

    @Option(help: ArgumentHelp(Environment.help("Comment recorded with the change", "comment")))
    var comment: String?
}

/// A small client for the admin API: one request, the status and the body, errors as readable messages.
struct AdminClient {
    let options: AdminOptions

    struct Reply {
        var status: Int
        var body: [UInt8]

        var text: String { String(decoding: self.body, as: UTF8.self) }
        var json: JSON? { try? JSONParser.parse(self.body) }
    }

    func send(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, contentType: String? = nil) async throws -> Reply {
        let base = self.options.adminURL.hasSuffix("/") ? String(self.options.adminURL.dropLast()) : self.options.adminURL
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let token = self.options.adminToken ?? Environment.value("admin-token") {
            request.headers.add(name: "Kong-Admin-Token", value: token)
        }
        if let comment = self.options.comment ?? Environment.value("comment") {
            request.headers.add(name: "X-Portcullis-Comment", value: comment)
        }
        let user = ProcessInfo.processInfo.environment["USER"] ?? "cli"
        request.headers.add(name: "X-Portcullis-Author", value: "\(user)@portcullis-cli")
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
            request.headers.add(name: "Content-Type", value: contentType ?? "application/json")
        }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        } catch {
            throw CLIError("cannot reach the admin API at \(self.options.adminURL): \(error)")
        }
        let buffer = try await response.body.collect(upTo: 1 << 30)
        return Reply(status: Int(response.status.code), body: Array(buffer.readableBytesView))
    }

    /// Fails with the server's message for anything but 2xx/304.
    func check(_ reply: Reply) throws -> Reply {
        if (200..<300).contains(reply.status) || reply.status == 304 { return reply }
        let message = reply.json?["message"]?.stringValue ?? reply.text
        throw CLIError("admin API answered \(reply.status): \(message)")
    }
}

struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum Output {
    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func json(_ value: JSON) { self.write(JSONWriter.string(value, pretty: true) + "\n") }
}
