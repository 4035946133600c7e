import ControlPlane
import GatewayModel
import HTTPTypes
import Testing
import TestSupport

@Suite struct RoutesAndPluginsAPITests {
    @Test func nestedRoutesAndFormArrays() async throws {
        try await AdminHarness().run { admin, _ in
            let svc = try await admin.json(.post, "/services", ["name": "s1", "host": "example.com"])
            _ = try await admin.json(.post, "/services", ["name": "s2", "host": "example.org"])
            let r1 = try await admin.form(.post, "/services/s1/routes", [
                ("name", "r1"), ("paths[]", "/a"), ("paths[]", "/b"), ("methods", "GET"), ("methods", "POST"),
                ("headers.x-version", "v1"), ("strip_path", "false"),
            ])
            #expect(r1.status == 201)
            #expect(r1["service"] == ["id": svc["id"] ?? .null])
            #expect(r1["paths"] == ["/a", "/b"])
            #expect(r1["methods"] == ["GET", "POST"])
            #expect(r1["headers"] == ["x-version": ["v1"]])
            #expect(r1["strip_path"] == false)
            #expect(r1["protocols"] == ["http", "https"])

            let r2 = try await admin.form(.post, "/services/s2/routes", [("name", "r2"), ("paths[2]", "/second"),
                                                                        ("paths[1]", "/first")])
            #expect(r2["paths"] == ["/first", "/second"])

            #expect(try await admin.get("/services/s1/routes")["data"]?.count == 1)
            #expect(try await admin.get("/services/s1/routes/r1").status == 200)
            #expect(try await admin.get("/services/s2/routes/r1").status == 404)
            #expect(try await admin.get("/services/nope/routes").status == 404)
            #expect(try await admin.get("/routes/r1/service")["name"] == "s1")
            let patched = try await admin.form(.patch, "/routes/r1/service", [("retries", "9")])
            #expect(patched["retries"] == 9)

            let top = try await admin.json(.post, "/routes", ["name": "r3", "hosts": ["*.example.com"],
                                                              "service": ["name": "s2"]])
            #expect(top.status == 201)
            #expect(top["service"]?["id"] == (try await admin.get("/services/s2"))["id"])

            let dangling = try await admin.json(.post, "/routes", ["paths": ["/x"], "service": ["name": "missing"]])
            #expect(dangling.status == 400)
            #expect(dangling["code"] == 4)
            #expect(dangling["message"] == "the foreign key '{name=\"missing\"}' does not reference an existing 'services' entity.")
        }
    }

    @Test func routeRules() async throws {
        try await AdminHarness().run { admin, _ in
            let none = try await admin.json(.post, "/routes", ["name": "empty"])
            #expect(none.status == 400)
            #expect(none["fields"]?["@entity"] == ["must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http', 'https'"] ||
                    none["fields"]?["@entity"] == ["must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'http', 'https'"])
            let hostHeader = try await admin.json(.post, "/routes", ["headers": ["Host": ["a"]], "paths": ["/"]])
            #expect(hostHeader["fields"]?["headers"]?["Host"] == "cannot contain 'host' header, which must be specified in the 'hosts' attribute")
            let regex = try await admin.json(.post, "/routes", ["paths": ["~/(unclosed"]])
            #expect(regex.status == 400)
            #expect(regex["fields"]?["paths"]?.arrayValue?.first?.stringValue?.hasPrefix("invalid regex") == true)
            let mixed = try await admin.json(.post, "/routes", ["paths": ["/"], "protocols": ["http", "tcp"]])
            #expect(mixed["fields"]?["protocols"]?.stringValue?.hasPrefix("these sets are mutually exclusive") == true)
            let ok = try await admin.json(.post, "/routes", ["paths": ["~/users/(?<id>\\d+)$"], "regex_priority": 5])
            #expect(ok.status == 201)
        }
    }

    @Test func deleteRulesAndCascades() async throws {
        try await AdminHarness(trustedIPs: ["10.0.0.0/8"]).run { admin, _ in
            _ = try await admin.json(.post, "/services", ["name": "s", "host": "example.com"])
            _ = try await admin.json(.post, "/services/s/routes", ["name": "r", "paths": ["/"]])
            let caPEM = try Repo.exampleCA()
            let ca = try await admin.json(.post, "/ca_certificates", ["cert": .string(caPEM)])
            let caID = try #require(ca["id"]?.stringValue)
            let plugin = try await admin.json(.post, "/services/s/plugins", [
                "name": "header-cert-auth",
                "config": ["ca_certificates": [.string(caID)], "certificate_header_name": "X-Amzn-Mtls-Clientcert",
                           "certificate_header_format": "url_encoded"],
            ])
            #expect(plugin.status == 201)
            let routePlugin = try await admin.json(.post, "/routes/r/plugins", [
                "name": "header-cert-auth",
                "config": ["ca_certificates": [.string(caID)], "certificate_header_name": "h",
                           "certificate_header_format": "base64_encoded", "secure_source": false],
            ])
            #expect(routePlugin.status == 201)

            let restricted = try await admin.delete("/services/s")
            #expect(restricted.status == 400)
            #expect(restricted.json == [
                "code": 4, "name": "foreign key violation",
                "message": "an existing 'routes' entity references this 'services' entity",
                "fields": ["@referenced_by": "routes"],
            ])
            let caInUse = try await admin.delete("/ca_certificates/\(caID)")
            #expect(caInUse.status == 400)
            #expect(caInUse["fields"]?["@referenced_by"] == "plugins")

            // Deleting the route cascades to its plugin; then the service goes with its own plugin.
            #expect(try await admin.delete("/routes/r").status == 204)
            #expect(try await admin.get("/plugins")["data"]?.count == 1)
            #expect(try await admin.delete("/services/s").status == 204)
            #expect(try await admin.get("/plugins")["data"]?.count == 0)
            #expect(try await admin.delete("/ca_certificates/\(caID)").status == 204)
        }
    }

    @Test func headerCertAuthValidation() async throws {
        try await AdminHarness().run { admin, _ in
            let caID = try #require(try await admin.json(.post, "/ca_certificates", ["cert": .string(try Repo.exampleCA())])["id"]?.stringValue)
            let unknown = try await admin.json(.post, "/plugins", ["name": "rate-limiting", "config": [:]])
            #expect(unknown.status == 400)
            #expect(unknown["fields"]?["name"] == "plugin 'rate-limiting' not enabled; available plugins: header-cert-auth, request-termination")

            let trio = try await admin.json(.post, "/plugins", ["name": "header-cert-auth"])
            #expect(trio.status == 400)
            #expect(trio["fields"]?["config"]?["ca_certificates"] == "required field missing")
            #expect(trio["fields"]?["config"]?["certificate_header_name"] == "required field missing")
            #expect(trio["fields"]?["config"]?["certificate_header_format"] == "required field missing")

            let missingCA = try await admin.json(.post, "/plugins", [
                "name": "header-cert-auth",
                "config": ["ca_certificates": ["00000000-0000-4000-8000-000000000000"], "certificate_header_name": "h",
                           "certificate_header_format": "url_encoded", "secure_source": false],
            ])
            #expect(missingCA.status == 400)
            #expect(missingCA["fields"]?["config"]?["ca_certificates"] == ["ca_certificate '00000000-0000-4000-8000-000000000000' does not exist"])

            let noSources = try await admin.form(.post, "/plugins", [
                ("name", "header-cert-auth"), ("config.ca_certificates[]", caID),
                ("config.certificate_header_name", "X-Amzn-Mtls-Clientcert"),
                ("config.certificate_header_format", "url_encoded"),
            ])
            #expect(noSources.status == 400)
            #expect(noSources["fields"]?["config"]?["secure_source"]?.stringValue?.hasPrefix("secure_source is true but no trusted sources") == true)

            let created = try await admin.form(.post, "/plugins", [
                ("name", "header-cert-auth"), ("config.ca_certificates[]", caID),
                ("config.certificate_header_name", "X-Amzn-Mtls-Clientcert"),
                ("config.certificate_header_format", "url_encoded"), ("config.trusted_sources", "10.0.0.0/16"),
            ])
            #expect(created.status == 201)
            let config = try #require(created["config"])
            #expect(config["secure_source"] == true)
            #expect(config["revocation_check_mode"] == "IGNORE_CA_ERROR")
            #expect(config["cache_ttl"] == 60)
            #expect(config["cert_cache_ttl"] == 60000)
            #expect(config["http_timeout"] == 30000)
            #expect(config["consumer_by"] == ["username", "custom_id"])
            #expect(config["authenticated_group_by"] == "CN")
            #expect(config["allow_partial_chain"] == false)
            #expect(config["trusted_sources"] == ["10.0.0.0/16"])
            #expect(created["protocols"] == ["grpc", "grpcs", "http", "https"])

            // A second global header-cert-auth is the same cache key.
            let again = try await admin.json(.post, "/plugins", [
                "name": "header-cert-auth",
                "config": ["ca_certificates": [.string(caID)], "certificate_header_name": "h",
                           "certificate_header_format": "url_encoded", "secure_source": false],
            ])
            #expect(again.status == 409)

            // PATCH merges into the stored config.
            let id = try #require(created["id"]?.stringValue)
            let patched = try await admin.json(.patch, "/plugins/\(id)", ["config": ["allow_partial_chain": true]])
            #expect(patched.status == 200)
            #expect(patched["config"]?["allow_partial_chain"] == true)
            #expect(patched["config"]?["trusted_sources"] == ["10.0.0.0/16"])

            let onConsumer = try await admin.json(.post, "/consumers", ["username": "c"])
            let scoped = try await admin.json(.post, "/consumers/c/plugins", [
                "name": "header-cert-auth",
                "config": ["ca_certificates": [.string(caID)], "certificate_header_name": "h",
                           "certificate_header_format": "url_encoded", "secure_source": false],
            ])
            #expect(onConsumer.status == 201)
            #expect(scoped.status == 400)
            #expect(scoped["fields"]?["consumer"]?.stringValue?.hasPrefix("value must be null") == true)
        }
    }

    @Test func gatewayWideTrustedIPsSatisfySecureSource() async throws {
        try await AdminHarness(trustedIPs: ["172.16.0.0/12"]).run { admin, _ in
            let caID = try #require(try await admin.json(.post, "/ca_certificates", ["cert": .string(try Repo.exampleCA())])["id"]?.stringValue)
            let created = try await admin.json(.post, "/plugins", [
                "name": "header-cert-auth",
                "config": ["ca_certificates": [.string(caID)], "certificate_header_name": "X-Amzn-Mtls-Clientcert",
                           "certificate_header_format": "url_encoded"],
            ])
            #expect(created.status == 201)
        }
    }
}
