import ControlPlane
import GatewayModel
import HTTPTypes
import Testing
import TestSupport

@Suite struct ConsumersAndCertificatesAPITests {
    @Test func consumersNeedUsernameOrCustomID() async throws {
        try await AdminHarness().run { admin, _ in
            let empty = try await admin.json(.post, "/consumers", [:])
            #expect(empty.status == 400)
            #expect(empty["fields"]?["@entity"] == ["at least one of these fields must be non-empty: 'custom_id', 'username'"])
            #expect(try await admin.json(.post, "/consumers", ["custom_id": "c-1"]).status == 201)
            #expect(try await admin.json(.post, "/consumers", ["username": "alice", "custom_id": "a-1"]).status == 201)
            let dupCustom = try await admin.json(.post, "/consumers", ["username": "bob", "custom_id": "a-1"])
            #expect(dupCustom.status == 409)
            #expect(dupCustom["fields"] == ["custom_id": "a-1"])
            #expect(try await admin.get("/consumers/alice")["custom_id"] == "a-1")
        }
    }

    @Test func caCertificatesByMultipartAndChecks() async throws {
        try await AdminHarness().run { admin, _ in
            let pem = try Repo.exampleCA()
            let created = try await admin.multipart("/ca_certificates", [("cert", pem)])
            #expect(created.status == 201)
            let digest = try #require(created["cert_digest"]?.stringValue)
            #expect(digest.count == 64)
            #expect(digest == CertificateFacts.parseOrNil(pem)?.digest)

            let again = try await admin.json(.post, "/ca_certificates", ["cert": .string(pem)])
            #expect(again.status == 409)
            #expect(again["fields"] == ["cert_digest": .string(digest)])

            let leaf = try await admin.json(.post, "/ca_certificates", ["cert": .string(try TestPKI.load().leaf)])
            #expect(leaf.status == 400)
            #expect(leaf["fields"]?["cert"] == "certificate does not appear to be a CA because it is missing the \"CA\" basic constraint")

            let two = try await admin.json(.post, "/ca_certificates", ["cert": .string(pem + "\n" + pem)])
            #expect(two["fields"]?["cert"] == "please submit only one certificate at a time")

            let garbage = try await admin.json(.post, "/ca_certificates", ["cert": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
            #expect(garbage.status == 400)
            #expect(garbage["fields"]?["cert"]?.stringValue?.hasPrefix("invalid certificate") == true)
        }
    }

    @Test func credentialsNestedUnderConsumers() async throws {
        try await AdminHarness().run { admin, _ in
            let caID = try #require(try await admin.json(.post, "/ca_certificates", ["cert": .string(try Repo.exampleCA())])["id"]?.stringValue)
            let consumer = try await admin.json(.post, "/consumers", ["username": "client.example.com"])
            let cred = try await admin.form(.post, "/consumers/client.example.com/header-cert-auth", [
                ("subject_name", "client.example.com"), ("ca_certificate.id", caID),
            ])
            #expect(cred.status == 201)
            #expect(cred["consumer"] == ["id": consumer["id"] ?? .null])
            #expect(cred["ca_certificate"] == ["id": .string(caID)])
            let unbound = try await admin.json(.post, "/consumers/client.example.com/header-cert-auth", ["subject_name": "other"])
            #expect(unbound.status == 201)
            #expect(unbound["ca_certificate"] == .null)

            let same = try await admin.json(.post, "/consumers/client.example.com/header-cert-auth", [
                "subject_name": "client.example.com", "ca_certificate": ["id": .string(caID)],
            ])
            #expect(same.status == 409)

            #expect(try await admin.get("/consumers/client.example.com/header-cert-auth")["data"]?.count == 2)
            #expect(try await admin.get("/header-cert-auths")["data"]?.count == 2)
            let credID = try #require(cred["id"]?.stringValue)
            #expect(try await admin.get("/consumers/client.example.com/header-cert-auth/\(credID)").status == 200)
            #expect(try await admin.get("/header-cert-auths/\(credID)/consumer")["username"] == "client.example.com")

            // Deleting the CA takes the mapping bound to it; deleting the consumer takes the rest.
            #expect(try await admin.delete("/ca_certificates/\(caID)").status == 204)
            #expect(try await admin.get("/header-cert-auths")["data"]?.count == 1)
            #expect(try await admin.delete("/consumers/client.example.com").status == 204)
            #expect(try await admin.get("/header-cert-auths")["data"]?.count == 0)
        }
    }

    @Test func paginationAndTags() async throws {
        try await AdminHarness().run { admin, _ in
            for i in 0..<250 {
                let tags: JSON = i % 2 == 0 ? ["even", "all"] : ["odd", "all"]
                let r = try await admin.json(.post, "/consumers", ["username": .string("user-\(i)"), "tags": tags])
                #expect(r.status == 201)
            }
            var seen = Set<String>()
            var uri = "/consumers"
            var pages = 0
            while pages < 10 {
                let page = try await admin.get(uri)
                #expect(page.status == 200)
                for c in page["data"]?.arrayValue ?? [] { seen.insert(c["username"]?.stringValue ?? "") }
                pages += 1
                guard let next = page["next"]?.stringValue else {
                    #expect(page["offset"] == .null)
                    break
                }
                #expect(next.hasPrefix("/consumers?offset="))
                #expect(page["offset"]?.stringValue != nil)
                uri = next
            }
            #expect(pages == 3)
            #expect(seen.count == 250)

            let small = try await admin.get("/consumers?size=7")
            #expect(small["data"]?.count == 7)
            let nextSmall = try #require(small["next"]?.stringValue)
            #expect(nextSmall.contains("size=7"))
            #expect(try await admin.get(nextSmall)["data"]?.count == 7)

            #expect(try await admin.get("/consumers?size=0")["code"] == 9)
            #expect(try await admin.get("/consumers?size=1001")["message"] == "size must be an integer between 1 and 1000")
            #expect(try await admin.get("/consumers?size=abc")["message"] == "size must be a number")
            let badOffset = try await admin.get("/consumers?offset=%21%21")
            #expect(badOffset.status == 400)
            #expect(badOffset["code"] == 7)

            #expect(try await admin.get("/consumers?tags=even&size=1000")["data"]?.count == 125)
            #expect(try await admin.get("/consumers?tags=even,all&size=1000")["data"]?.count == 125)
            #expect(try await admin.get("/consumers?tags=even,odd&size=1000")["data"]?.count == 0)
            #expect(try await admin.get("/consumers?tags=even/odd&size=1000")["data"]?.count == 250)
            let mixed = try await admin.get("/consumers?tags=a,b/c")
            #expect(mixed.status == 400)
            #expect(mixed["code"] == 11)
            #expect(try await admin.get("/consumers?tags=a,b,c,d,e,f")["message"] == "invalid option (tags: cannot query more than 5 tags)")

            let tagRows = try await admin.get("/tags/odd")
            #expect(tagRows["data"]?.count == 125)
            #expect(tagRows["data"]?.arrayValue?.first?["entity_name"] == "consumers")
            #expect(try await admin.get("/tags")["data"]?.count == 500)
        }
    }
}

extension CertificateFacts {
    static func parseOrNil(_ pem: String) -> CertificateFacts? { try? self.parse(pem: pem) }
}
