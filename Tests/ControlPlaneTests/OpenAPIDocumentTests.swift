import ControlPlane
import Foundation
import GatewayModel
import HTTPTypes
import Hummingbird
import Logging
import Testing
import TestSupport

/// `GET /openapi.json`: the served bytes are docs/openapi.json's, and the document covers every route the admin
/// router registers (schemathesis then checks the answers against it: IntegrationTests/SchemathesisTests).
@Suite struct OpenAPIDocumentTests {
    static let repoFile = Repo.root.appendingPathComponent("docs/openapi.json")

    /// The served document equals the committed one byte for byte. `PORTCULLIS_WRITE_OPENAPI=1 swift test --filter
    /// OpenAPIDocumentTests` rewrites the file from the code (the source of truth) instead.
    @Test func servedDocumentIsTheRepoFile() async throws {
        try await AdminHarness().run { admin, _ in
            let reply = try await admin.get("/openapi.json")
            #expect(reply.status == 200)
            #expect(reply.headers[.contentType] == "application/json; charset=utf-8")
            #expect(reply.body == OpenAPIDocument.bytes)
            if ProcessInfo.processInfo.environment["PORTCULLIS_WRITE_OPENAPI"] == "1" {
                try Data(reply.body).write(to: Self.repoFile)
            }
            let committed = try Data(contentsOf: Self.repoFile)
            #expect(Array(committed) == reply.body,
                    """
                    docs/openapi.json differs from the document the code builds: regenerate it with \
                    PORTCULLIS_WRITE_OPENAPI=1 swift test --skip-build --filter OpenAPIDocumentTests
                    """)
            let doc = try JSONParser.parse(reply.body)
            #expect(doc["openapi"] == "3.0.3")
            #expect(doc["info"]?["version"] == .string(ControlPlaneServer.version))
        }
    }

    /// `/services/:key/routes/:child` and `/services/{service}/routes/{route}` both become `/services/*/routes/*`.
    static func shape(_ path: String) -> String {
        "/" + path.split(separator: "/").map { $0.hasPrefix(":") || $0.hasPrefix("{") ? "*" : String($0) }
            .joined(separator: "/")
    }

    /// Every documented operation is a registered route, and every registered route the document leaves out is
    /// HEAD (GET without the body), OPTIONS (204 with `Allow`) or a refusal: 405 with `Allow`.
    @Test func documentCoversEveryRegisteredRoute() async throws {
        let dir = URL(fileURLWithPath: "/tmp/pc-oa-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = ControlPlaneConfiguration()
        config.databasePath = dir.appendingPathComponent("portcullis.db").path
        config.clusterSocket = dir.appendingPathComponent("cluster.sock").path
        let server = try ControlPlaneServer(configuration: config, logger: Logger(label: "test"))
        let registered = Set(server.router.routes.map { "\($0.method.rawValue) \(Self.shape($0.path.description))" })

        let doc = try JSONParser.parse(OpenAPIDocument.bytes)
        var documented = Set<String>()
        for (path, item) in doc["paths"]?.objectValue ?? [:] {
            for method in (item.objectValue ?? [:]).keys {
                documented.insert("\(method.uppercased()) \(Self.shape(path))")
            }
        }
        #expect(documented.count > 90)
        let missing = documented.subtracting(registered)
        let undocumented = registered.subtracting(documented).sorted()
        let operations = documented
        #expect(missing.isEmpty, "documented but not registered: \(missing.sorted())")

        try await AdminHarness().run { admin, _ in
            for route in undocumented {
                let parts = route.split(separator: " ", maxSplits: 1).map(String.init)
                let uri = parts[1].replacingOccurrences(of: "*", with: "x")
                let method = try #require(HTTPRequest.Method(parts[0]))
                let reply = try await admin.send(method, uri)
                let allow = reply.headers[.allow] ?? ""
                switch method {
                case .head:
                    #expect(operations.contains("GET \(parts[1])"), "\(route) without a GET")
                    #expect(reply.body.isEmpty, "\(route)")
                case .options:
                    #expect(reply.status == 204, "\(route)")
                    #expect(allow.hasSuffix("OPTIONS"), "\(route): Allow \(allow)")
                default:
                    #expect(reply.status == 405, "\(route) is registered, undocumented, and answers \(reply.status)")
                    #expect(reply["message"] == "Method not allowed")
                    #expect(!allow.isEmpty && !allow.contains(parts[0]), "\(route): Allow \(allow)")
                }
            }
        }
    }

    /// Every entity type's collection, item and nested forms are in the document.
    @Test func everyEntityTypeIsDocumented() throws {
        let doc = try JSONParser.parse(OpenAPIDocument.bytes)
        let paths = doc["paths"]?.objectValue ?? [:]
        for schema in EntityRegistry.all {
            #expect(paths["/\(schema.adminPath)"]?["post"] != nil, "\(schema.name)")
            #expect(paths["/\(schema.adminPath)/{\(schema.singular)}"]?["put"] != nil, "\(schema.name)")
            let response = doc["components"]?["schemas"]?[Names(schema).entity]
            #expect(Set(response?["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
                    == Set(schema.fields.map(\.name)))
        }
        #expect(paths["/consumers/{consumer}/header-cert-auth/{header_cert_auth_credential}"]?["delete"] != nil)
        #expect(paths["/routes/{route}/service"]?["patch"] != nil)
        let schemes = doc["components"]?["securitySchemes"]
        #expect(schemes?["adminToken"]?["name"] == "Kong-Admin-Token")
        #expect(schemes?["bearerToken"]?["scheme"] == "bearer")
    }

    /// The document is behind the admin token like every other path.
    @Test func documentNeedsTheTokenWhenOneIsSet() async throws {
        try await AdminHarness(token: "s3cret").run { admin, _ in
            let refused = try await admin.get("/openapi.json")
            #expect(refused.status == 401)
            #expect(refused["message"] == "Invalid credentials. Token or User credentials required")
            var headers = HTTPFields()
            headers[HTTPField.Name("Kong-Admin-Token")!] = "s3cret"
            #expect(try await admin.get("/openapi.json", headers: headers).body == OpenAPIDocument.bytes)
            headers = HTTPFields()
            headers[.authorization] = "Bearer s3cret"
            #expect(try await admin.get("/openapi.json", headers: headers).status == 200)
        }
    }

    /// Schema names as the document spells them.
    struct Names {
        let schema: EntitySchema
        init(_ schema: EntitySchema) { self.schema = schema }
        var entity: String {
            self.schema.singular.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        }
    }
}
