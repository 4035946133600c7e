/// The data plane's metric names, help texts and reserved label values (docs/operations.md lists them; a name
/// always comes with the same help text, as the registry requires).
enum Names {
    static let requests = "portcullis_dp_requests_total"
    static let requestsHelp = "Requests answered, by route, service and status class."
    static let duration = "portcullis_dp_request_duration_seconds"
    static let durationHelp = "Time from the start of a request to the end of its response."
    static let upstreamDuration = "portcullis_dp_upstream_duration_seconds"
    static let upstreamDurationHelp = "Time from sending a request upstream to its response head."
    static let routeLabels = "portcullis_dp_metrics_route_labels"
    static let routeLabelsHelp = "Distinct route label values made (at most the route label cap)."
    static let routeLabelsCapped = "portcullis_dp_metrics_route_labels_capped_total"
    static let routeLabelsCappedHelp = "Routes counted under route=\"_other\" because the route label cap was reached."
    static let auth = "portcullis_dp_header_cert_auth_total"
    static let authHelp = "header-cert-auth decisions by reason."
    static let verdictCache = "portcullis_dp_header_cert_auth_verdict_cache_total"
    static let verdictCacheHelp = "header-cert-auth chain verdicts served from the cache (hit) or verified (miss)."
    static let poolConnections = "portcullis_dp_upstream_connections_total"
    static let poolConnectionsHelp =
        "Upstream connections opened, reused from the keep-alive pool, or failed to connect."
    static let poolIdle = "portcullis_dp_upstream_connections_idle"
    static let poolIdleHelp = "Keep-alive upstream connections idle in the pools now."
    static let configVersion = "portcullis_dp_config_version"
    static let configVersionHelp = "Version of the configuration served."
    static let configAppliedAt = "portcullis_dp_config_applied_timestamp_seconds"
    static let configAppliedAtHelp = "When the configuration served was applied (Unix time)."
    static let configInfo = "portcullis_dp_config_info"
    static let configInfoHelp = "The configuration served: version, hash and source (always 1)."
    static let applyDuration = "portcullis_dp_config_apply_duration_seconds"
    static let applyDurationHelp = "Time to decode, validate and compile a snapshot or delta from the control plane."
    static let applies = "portcullis_dp_config_applies_total"
    static let appliesHelp = "Snapshots and deltas from the control plane applied (ok) or rejected (failed)."
    static let cpConnected = "portcullis_dp_control_plane_connected"
    static let cpConnectedHelp = "1 while the cluster connection to the control plane is up."
    static let cpConnects = "portcullis_dp_control_plane_connects_total"
    static let cpConnectsHelp = "Cluster connections established with the control plane."
    static let accessLogLines = "portcullis_dp_access_log_lines_total"
    static let accessLogLinesHelp = "Access log lines written."
    static let accessLogDropped = "portcullis_dp_access_log_dropped_total"
    static let accessLogDroppedHelp = "Access log lines dropped because the writer's queue was full."

    static let unmatchedLabel = "_unmatched"
    static let otherLabel = "_other"
    static let noneLabel = "_none"

    /// A label value from an entity name: at most 128 bytes of `[A-Za-z0-9._~-]` (Kong's name characters);
    /// anything else becomes `_`.
    static func label(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(min(value.utf8.count, 128))
        for scalar in value.unicodeScalars.prefix(128) {
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "~", "-": out.unicodeScalars.append(scalar)
            default: out.append("_")
            }
        }
        return out.isEmpty ? Self.noneLabel : out
    }
}
