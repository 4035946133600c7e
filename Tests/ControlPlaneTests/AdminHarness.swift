import ControlPlane
import Foundation
import GatewayModel
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import Testing
import TestSupport

/// A control plane on a real SQLite file in a fresh temp directory, driven through the admin router.
struct AdminHarness {
    var trustedIPs: [String] = []
    var token: String?
    var retention = 500
    var bodyLimit = 64 * 1024 * 1024
    var heartbeat: Duration = .seconds(1)
    /// The registry the control plane's metrics go to (a private one when nil).
    var registry: PrometheusCollectorRegistry?

    /// The parts of a running control plane a test may reach into.
    struct Handles: Sendable {
        var store: ConfigStore
        var builder: SnapshotBuilder
        var socketPath: String
    }

    func run(_ body: @Sendable (AdminClient, Handles) async throws -> Void) async throws {
        let dir = URL(fileURLWithPath: "/tmp/pc-cp-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = ControlPlaneConfiguration()
        config.databasePath = dir.appendingPathComponent("portcullis.db").path
        config.clusterSocket = dir.appendingPathComponent("cluster.sock").path
        config.trustedIPs = self.trustedIPs
        config.adminToken = self.token
        config.snapshotRetention = self.retention
        config.adminBodyLimit = self.bodyLimit
        config.heartbeatInterval = self.heartbeat
        config.metricsRegistry = self.registry
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let server = try ControlPlaneServer(configuration: config, logger: logger)
        let handles = Handles(store: server.store, builder: server.builder, socketPath: config.clusterSocket)
        try await server.application().test(.router) { client in
            try await body(AdminClient(client: client), handles)
        }
    }
}

/// Answers of the admin API, parsed.
struct Reply: Sendable {
    var status: Int
    var headers: HTTPFields
    var body: [UInt8]

    var json: JSON { (try? JSONParser.parse(self.body)) ?? .null }
    var text: String { String(decoding: self.body, as: UTF8.self) }
    subscript(_ key: String) -> JSON? { self.json[key] }
}

struct AdminClient: Sendable {
    let client: any TestClientProtocol

    func send(_ method: HTTPRequest.Method, _ uri: String, body: [UInt8]? = nil, contentType: String? = nil,
              headers extra: HTTPFields = [:]) async throws -> Reply
    {
        var headers = extra
        if let contentType { headers[.contentType] = contentType }
        return try await self.client.execute(
            uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(bytes: $0) }
        ) { r in Reply(status: Int(r.status.code), headers: r.headers, body: Array(r.body.readableBytesView)) }
    }

    func get(_ uri: String, headers: HTTPFields = [:]) async throws -> Reply {
        try await self.send(.get, uri, headers: headers)
    }

    func delete(_ uri: String) async throws -> Reply { try await self.send(.delete, uri) }

    func json(_ method: HTTPRequest.Method, _ uri: String, _ value: JSON) async throws -> Reply {
        try await self.send(method, uri, body: JSONWriter.bytes(value), contentType: "application/json")
    }

    /// A form-encoded request, as `curl -d k=v -d k2=v2` sends it.
    func form(_ method: HTTPRequest.Method, _ uri: String, _ pairs: [(String, String)]) async throws -> Reply {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let body = pairs.map { k, v in
            "\(k.addingPercentEncoding(withAllowedCharacters: allowed) ?? k)=\(v.addingPercentEncoding(withAllowedCharacters: allowed) ?? v)"
        }.joined(separator: "&")
        return try await self.send(method, uri, body: Array(body.utf8), contentType: "application/x-www-form-urlencoded")
    }

    /// A multipart request, as `curl -F k=v -F cert=@file` sends it.
    func multipart(_ uri: String, _ parts: [(String, String)]) async throws -> Reply {
        let boundary = "----portcullis-test-\(UUID().uuidString)"
        var body = ""
        for (name, value) in parts {
            body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"; filename=\"\(name).pem\"\r\n"
            body += "Content-Type: application/octet-stream\r\n\r\n\(value)\r\n"
        }
        body += "--\(boundary)--\r\n"
        return try await self.send(.post, uri, body: Array(body.utf8), contentType: "multipart/form-data; boundary=\(boundary)")
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { self.description = d }
}

extension JSON {
    var count: Int { self.arrayValue?.count ?? 0 }
}
