import NIOCore

/// One request's facts for its metrics and access log line, filled in by the connection's handler as the request
/// goes (routing, upstream send, response head) and recorded once when it ends
/// (``ProxyLoopContext/record(_:status:run:client:lane:outcome:)``). Nothing here is formatted per request.
struct RequestTrace {
    var started: NIODeadline
    var requestID: RequestID
    var method: String
    var path: Substring
    var route: CompiledRoute?
    var serviceLabel: String?
    /// When the request went to the upstream (connect included) and when its response head came back.
    var upstreamSent: NIODeadline?
    var upstreamAnswered: NIODeadline?
    /// An authentication decided without a plugin run (``RawAccessPlugin``); with a run, its context has it.
    var auth: Auth?
    /// Recorded already (or nothing to record): later endings of the same request are ignored.
    var recorded = false

    init(started: NIODeadline, requestID: RequestID, method: String, path: Substring) {
        self.started = started
        self.requestID = requestID
        self.method = method
        self.path = path
    }

    struct Auth {
        var outcome: String
        var consumer: PluginContext.Consumer?
        var cached: Bool?
    }

    /// The placeholder a handler starts with: nothing to record.
    static var none: RequestTrace {
        var trace = RequestTrace(started: .now(), requestID: RequestID(inbound: nil, prefix: "", sequence: 0),
                                 method: "", path: "")
        trace.recorded = true
        return trace
    }
}
