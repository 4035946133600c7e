import GatewayModel
import NIOHTTP1

/// The bodies of the answers the proxy gives itself, encoded once: Kong's messages (`kong/error_handlers.lua`)
/// where Kong has one.
enum ProxyAnswers {
    static let noConfiguration = JSONWriter.bytes([
        "message": "no configuration applied yet: this data plane has not reached its control plane and has no cached snapshot",
    ])
    static let noRoute = JSONWriter.bytes(["message": "no Route matched with those values"])
    static let noService = JSONWriter.bytes(["message": "no Service found with those values"])
    static let badGateway = JSONWriter.bytes(["message": "An invalid response was received from the upstream server"])
    static let unexpected = JSONWriter.bytes(["message": "An unexpected error occurred"])
    static let timedOut = JSONWriter.bytes(["message": "The upstream server is timed out"])

    /// The head of one of these answers, or of a plugin's early answer: its extra headers are added (its
    /// Content-Type replaces the JSON one; framing fields are the proxy's).
    static func head(_ status: HTTPResponseStatus, bodyLength: Int, keepAlive: Bool, version: HTTPVersion,
                     extra: HTTPHeaders?) -> HTTPResponseHead
    {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: extra?.first(name: "content-type") ?? "application/json; charset=utf-8")
        headers.add(name: "Content-Length", value: String(bodyLength))
        headers.add(name: "Server", value: "portcullis")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        for (name, value) in extra ?? HTTPHeaders() {
            switch name.lowercased() {
            case "content-type", "content-length", "transfer-encoding", "connection": continue
            default: headers.add(name: name, value: value)
            }
        }
        return HTTPResponseHead(version: version, status: status, headers: headers)
    }
}
