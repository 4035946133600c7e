import GatewayModel
import HTTPTypes
import Testing

/// Input built to break the store, sent to the entity endpoints: SQL-looking strings, ids that are not UUIDs,
/// certificates that are not PEM. Each gets a clear 4xx or is kept as the plain data it is; nothing else is stored and
/// the tables stay usable.
@Suite struct HostileAdminInputTests {
    static let sql = "x'; DROP TABLE services; --"

    @Test("SQL-looking strings, invalid UUIDs and invalid PEM: a 4xx naming the field, or stored verbatim as data")
    func hostileInputs() async throws {
        try await AdminHarness().run { admin, _ in
            // Names and hosts have a grammar: refused, naming the field.
            let name = try await admin.json(.post, "/services", ["name": .string(Self.sql), "host": "example.com"])
            #expect(name.status == 400 && name["fields"]?["name"] != nil, "\(name.json)")
            // A tag may hold these characters (Kong's grammar: printable ASCII but `,` and `/`): plain data, kept
            // as it is and found by it.
            let tagged = try await admin.json(.post, "/services", ["host": "example.com", "tags": [.string(Self.sql)]])
            #expect(tagged.status == 201 && tagged["tags"] == [.string(Self.sql)], "\(tagged.json)")
            let byTag = try await admin.get("/services?tags=x%27%3B%20DROP%20TABLE%20services%3B%20--")
            #expect(byTag["data"]?.count == 1, "\(byTag.json)")
            let host = try await admin.json(.post, "/services", ["host": .string(Self.sql)])
            #expect(host.status == 400 && host["fields"]?["host"] != nil, "\(host.json)")

            // A username is free text: it is stored as it is and read back as it is.
            let consumer = try await admin.json(.post, "/consumers", ["username": .string(Self.sql)])
            #expect(consumer.status == 201, "\(consumer.json)")
            let id = try #require(consumer["id"]?.stringValue)
            #expect(try await admin.get("/consumers/\(id)")["username"]?.stringValue == Self.sql)

            // Ids that are not UUIDs: refused in bodies and references; in paths they match nothing.
            let badID = try await admin.json(.post, "/services", ["id": "not-a-uuid", "host": "example.com"])
            #expect(badID.status == 400 && badID["fields"]?["id"] != nil, "\(badID.json)")
            let badRef = try await admin.json(.post, "/routes", ["paths": ["/x"], "service": ["id": .string(Self.sql)]])
            #expect(badRef.status == 400, "\(badRef.json)")
            let missing = try await admin.get("/services/%27%3B%20DROP%20TABLE%20services%3B")
            #expect(missing.status == 404, "\(missing.json)")
            let patch = try await admin.json(.patch, "/services/00000000-0000-4000-8000-00000000dead", ["retries": 1])
            #expect(patch.status == 404, "\(patch.json)")

            // Certificates that are not PEM, or PEM of garbage.
            for cert in ["not a certificate", "-----BEGIN CERTIFICATE-----\n\(Self.sql)\n-----END CERTIFICATE-----\n",
                         "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]
            {
                let ca = try await admin.json(.post, "/ca_certificates", ["cert": .string(cert)])
                #expect(ca.status == 400 && ca["fields"]?["cert"] != nil, "\(ca.json)")
            }

            // Wrong types everywhere a number or a list is expected.
            let types = try await admin.json(.post, "/services", ["host": "example.com", "port": "80; DROP", "retries": [1]])
            #expect(types.status == 400 && types["fields"]?["port"] != nil && types["fields"]?["retries"] != nil,
                    "\(types.json)")

            // Only the tagged service and the consumer were stored, and every table still answers.
            #expect(try await admin.get("/services")["data"]?.count == 1)
            #expect(try await admin.get("/routes")["data"]?.count == 0)
            #expect(try await admin.get("/ca_certificates")["data"]?.count == 0)
            #expect(try await admin.get("/consumers")["data"]?.count == 1)
            let service = try await admin.json(.post, "/services", ["name": "after", "host": "example.com"])
            #expect(service.status == 201)
        }
    }
}
