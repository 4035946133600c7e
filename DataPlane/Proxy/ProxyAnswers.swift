import GatewayModel

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
}
