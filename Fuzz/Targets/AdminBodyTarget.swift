import ControlPlane
import GatewayModel

/// An admin API request body, parsed as the admin API parses it, then validated as every entity type's create.
enum AdminBodyTarget {
    /// The input is the `Content-Type` value, a line feed, then the body (no line feed: a JSON body without a
    /// content type).
    static func run(_ input: [UInt8]) -> FuzzOutcome {
        var contentType = ""
        var body = input
        if let lf = input.firstIndex(of: 0x0A) {
            contentType = String(decoding: input[..<lf], as: UTF8.self)
            body = Array(input[(lf + 1)...])
        }
        let parsed: AdminBody
        do {
            parsed = try AdminBody.parse(body, contentType: contentType)
        } catch {
            return .refused("\(error)")
        }
        if case .string(let text)? = parsed.fields["config"] {
            // `POST /config` with the document in a `config` field.
            _ = try? DeclarativeLoader.parseText(text)
        }
        let context = ValidationContext(trustedIPs: FuzzFixtures.trustedIPs, now: FuzzFixtures.now) { _, _ in true }
        var accepted = false
        for schema in EntityRegistry.all {
            let result = EntityWriter.prepare(schema, input: parsed.fields, existing: nil, kind: .create,
                                              coerceStrings: parsed.fromForm, context: context)
            if case .success = result { accepted = true }
        }
        return accepted ? .accepted : .refused("no entity type accepts the fields")
    }
}
