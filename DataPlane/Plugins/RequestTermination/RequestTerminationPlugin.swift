import Foundation
import GatewayModel
import NIOHTTP1

/// Kong's `request-termination` (priority 2): answers every request in its scope with a fixed response, or, with
/// `trigger`, only requests carrying that header or query argument.
///
/// Behaviour as documented by Kong (developer.konghq.com/plugins/request-termination/ and the plugin's schema):
/// `body` (with `content_type`) is sent as is; otherwise `{"message": message}`, where `message` defaults to a
/// text for the common statuses (401, 404, 405, 500, 502, 503) and, for other statuses without a message, the
/// body is empty. `echo` answers a JSON description of the request instead (for debugging); this build does not
/// read the request body before answering, so `request.body` and `request.raw_body` are null, and headers are
/// those after identity-header stripping.
final class RequestTerminationPlugin: GatewayPlugin {
    static let factory = PluginFactory(name: "request-termination", priority: 2) { config in
        try RequestTerminationPlugin(config: config)
    }

    let phases: PluginPhases = .access
    private let status: HTTPResponseStatus
    private let message: String?
    /// The answer when not echoing, encoded once per snapshot.
    private let response: PluginResponse
    private let echo: Bool
    /// Lowercased header (or query argument) name that must be present for the plugin to act.
    private let trigger: String?

    init(config: JSONObject) throws {
        let code = config["status_code"]?.intValue ?? 503
        guard (100...599).contains(code) else {
            throw PluginConfigError("status_code must be between 100 and 599, got \(code)")
        }
        let status = HTTPResponseStatus(statusCode: Int(code))
        self.status = status
        let message = config["message"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        self.message = message ?? Self.defaultMessages[Int(code)]
        self.echo = config["echo"]?.boolValue ?? false
        self.trigger = config["trigger"]?.stringValue.flatMap { $0.isEmpty ? nil : $0.lowercased() }
        if let body = config["body"]?.stringValue, !body.isEmpty {
            var headers = HTTPHeaders()
            if let type = config["content_type"]?.stringValue, !type.isEmpty {
                headers.add(name: "Content-Type", value: type)
            }
            self.response = PluginResponse(status: status, headers: headers, body: Array(body.utf8))
        } else if let text = self.message {
            self.response = .message(status, text)
        } else {
            self.response = PluginResponse(status: status, body: [])
        }
    }

    func access(_ context: PluginContext) -> AccessResult {
        if let trigger = self.trigger, !context.request.headers.contains(name: trigger),
           !Self.query(context.query, has: trigger)
        {
            return .proceed
        }
        guard self.echo else { return .respond(self.response) }
        return .respond(PluginResponse(status: self.status, headers: ["Content-Type": "application/json"],
                                       body: JSONWriter.bytes(self.describe(context))))
    }

    /// Kong's `DEFAULT_RESPONSE` texts.
    private static let defaultMessages: [Int: String] = [
        401: "Unauthorized", 404: "Not found", 405: "Method not allowed", 500: "An unexpected error occurred",
        502: "Bad Gateway", 503: "Service unavailable",
    ]

    private static func query(_ query: Substring?, has name: String) -> Bool {
        guard let query else { return false }
        return query.dropFirst().split(separator: "&").contains { pair in
            let key = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
            return Self.decode(key).lowercased() == name
        }
    }

    /// A query string component, form-decoded as nginx's `ngx.req.get_uri_args` does (`+` is a space).
    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    /// The echo body: the request as the plugin saw it, and the matched route and service.
    private func describe(_ context: PluginContext) -> JSON {
        var headers: JSONObject = [:]
        for (name, value) in context.request.headers {
            let key = name.lowercased()
            switch headers[key] {
            case nil: headers[key] = .string(value)
            case .array(let values)?: headers[key] = .array(values + [.string(value)])
            case let single?: headers[key] = .array([single, .string(value)])
            }
        }
        var query: JSONObject = [:]
        for pair in (context.query?.dropFirst() ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            query[Self.decode(parts[0])] = parts.count > 1 ? .string(Self.decode(parts[1])) : .bool(true)
        }
        let host = context.request.headers.first(name: "x-forwarded-host") ?? ""
        let port = Int64(context.request.headers.first(name: "x-forwarded-port") ?? "") ?? 0
        let request: JSON = [
            "scheme": .string(context.request.headers.first(name: "x-forwarded-proto") ?? "http"),
            "host": .string(host), "port": .int(port), "headers": .object(headers), "query": .object(query),
            "body": .null, "raw_body": .null, "method": .string(context.method.rawValue),
            "path": .string(String(context.path)),
        ]
        return [
            "message": self.message.map(JSON.string) ?? .null,
            "request": request,
            "matched_route": .object(context.route.entity),
            "matched_service": ["id": .string(context.serviceID)],
        ]
    }
}
