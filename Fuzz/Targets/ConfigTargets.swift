package import GatewayModel

/// The declarative loader and the JSON parser.
enum ConfigTargets {
    /// Parses the text as `POST /config` does (JSON first when it looks like JSON, else YAML) and loads it.
    static func declarative(_ input: [UInt8]) -> FuzzOutcome {
        guard let text = String(validating: input, as: UTF8.self) else { return .refused("not UTF-8") }
        let document: JSON
        do {
            document = try DeclarativeLoader.parseText(text)
        } catch {
            return .refused(error.description)
        }
        switch DeclarativeLoader.load(document, trustedIPs: FuzzFixtures.trustedIPs, now: FuzzFixtures.now) {
        case .success(let content):
            let problems = ConfigValidator.problems(content, now: FuzzFixtures.now)
            // What the loader accepted, a data plane must accept too.
            invariant(problems.isEmpty, "a loaded configuration fails whole-configuration validation: \(problems)")
            return .accepted
        case .failure(let error):
            return .refused(error.description)
        }
    }

    /// Parses the bytes; what parses is written and parsed again and must write the same bytes. The same bytes are
    /// also read as a route record (the snapshot decoder's fast path).
    static func json(_ input: [UInt8]) -> FuzzOutcome {
        _ = try? JSONParser.parseRecord(input, fields: FieldTable.canonical(EntitySchema.routes.name))
        let value: JSON
        do {
            value = try JSONParser.parse(input)
        } catch {
            return .refused(error.description)
        }
        let written = JSONWriter.bytes(value)
        guard let again = try? JSONParser.parse(written) else {
            invariant(false, "the writer's output does not parse")
            return .refused("unreachable")
        }
        invariant(JSONWriter.bytes(again) == written, "writing, parsing and writing again changed the bytes")
        invariant(JSONWriter.bytes(again, pretty: true) == JSONWriter.bytes(value, pretty: true),
                  "pretty output differs between equal values")
        return .accepted
    }
}

/// The fixed context the configuration targets run in.
package enum FuzzFixtures {
    /// 2026-12-01T00:00:00Z: timestamps and certificate checks do not depend on the day the fuzzer runs.
    package static let now: Int64 = 1_796_083_200
    package static let trustedIPs = ["10.0.0.0/8", "127.0.0.1/32"]

    /// A small configuration (services, routes, consumers): the snapshot deltas apply to and the previous snapshot
    /// whole payloads reuse rows from.
    package static let baseYAML = """
        _format_version: "3.0"
        services:
          - name: orders
            id: 0b1c8a5e-3f0e-4d55-9a60-5a1e1e3c0001
            url: http://127.0.0.1:9000/orders
            routes:
              - name: orders-api
                id: 0b1c8a5e-3f0e-4d55-9a60-5a1e1e3c0101
                paths: ["/orders", "~/orders/[0-9]+$"]
                methods: [GET, POST]
          - name: users
            id: 0b1c8a5e-3f0e-4d55-9a60-5a1e1e3c0002
            host: 127.0.0.1
            port: 9001
            routes:
              - name: users-api
                id: 0b1c8a5e-3f0e-4d55-9a60-5a1e1e3c0102
                hosts: [users.example.com]
                paths: [/users]
                strip_path: false
        consumers:
          - username: client.example.com
            id: 0b1c8a5e-3f0e-4d55-9a60-5a1e1e3c0201
        plugins:
          - name: request-termination
            route: users-api
            config:
              status_code: 403
              message: closed
        """

    /// ``baseYAML`` loaded and decoded as a data plane holds it; nil would mean the fixture itself is broken (the
    /// unit test checks it is not).
    package static let base: DecodedSnapshot? = {
        guard let document = try? DeclarativeLoader.parseText(baseYAML),
            case .success(let content) = DeclarativeLoader.load(document, trustedIPs: trustedIPs, now: now)
        else { return nil }
        return try? IncrementalDecoder.decode(content.canonicalBytes(), previous: nil)
    }()
}
