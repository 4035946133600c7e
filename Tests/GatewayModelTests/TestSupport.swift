import Foundation
import GatewayModel
import Testing

/// Shared fixtures: a fixed clock, validation contexts and shortcuts around ``EntityWriter``.
enum Fixture {
    /// 2027-01-15T08:00:00Z: a fixed "now" so timestamps in expectations are stable.
    static let now: Int64 = 1_800_000_000

    static let caID = "7c3f0a4e-0000-4000-8000-000000000001"
    static let otherCAID = "7c3f0a4e-0000-4000-8000-000000000002"
    static let serviceID = "11111111-1111-4111-8111-111111111111"
    static let routeID = "22222222-2222-4222-8222-222222222222"
    static let consumerID = "33333333-3333-4333-8333-333333333333"

    /// A context in which the given `(type, id)` pairs exist and nothing else does.
    static func context(
        trustedIPs: [String] = [],
        now: Int64 = Fixture.now,
        existing: [(String, String)] = []
    ) -> ValidationContext {
        let known = Set(existing.map { "\($0.0)/\($0.1)" })
        return ValidationContext(trustedIPs: trustedIPs, now: now) { type, id in known.contains("\(type)/\(id)") }
    }

    /// Creates an entity (POST semantics) with JSON input.
    static func create(
        _ schema: EntitySchema,
        _ input: JSONObject,
        context: ValidationContext = Fixture.context()
    ) -> Result<JSONObject, ValidationErrors> {
        EntityWriter.prepare(schema, input: input, existing: nil, kind: .create, coerceStrings: false, context: context)
    }

    /// The entity of a write that must succeed.
    static func valid(
        _ schema: EntitySchema,
        _ input: JSONObject,
        context: ValidationContext = Fixture.context(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> JSONObject {
        switch self.create(schema, input, context: context) {
        case .success(let e): return e
        case .failure(let errors):
            Issue.record("unexpected validation failure: \(errors.message)", sourceLocation: sourceLocation)
            throw FixtureError.unexpected
        }
    }

    /// The errors of a write that must fail.
    static func invalid(
        _ schema: EntitySchema,
        _ input: JSONObject,
        context: ValidationContext = Fixture.context(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> ValidationErrors {
        switch self.create(schema, input, context: context) {
        case .success(let e):
            Issue.record("expected a validation failure, got \(JSONWriter.string(.object(e)))",
                         sourceLocation: sourceLocation)
            throw FixtureError.unexpected
        case .failure(let errors): return errors
        }
    }

    enum FixtureError: Error { case unexpected }
}

extension ValidationErrors {
    /// The error at a dotted path such as `config.secure_source` or `paths.1` (0-based element index).
    func at(_ path: String) -> FieldError? {
        var parts = path.split(separator: ".").map(String.init)
        guard !parts.isEmpty else { return nil }
        var current = self.fields[parts.removeFirst()]
        for p in parts {
            switch current {
            case .fields(let f)?: current = f[p]
            case .elements(let e)?: current = Int(p).flatMap { e[$0] }
            default: return nil
            }
        }
        return current
    }

    func messageAt(_ path: String) -> String? {
        if case .message(let m)? = self.at(path) { return m }
        return nil
    }
}

