"""Schemathesis hooks for IntegrationTests/SchemathesisTests (loaded through SCHEMATHESIS_HOOKS)."""
import schemathesis

WAIT_MS = 50


@schemathesis.hook
def before_call(context, case, kwargs):
    """`GET /clustering/status?wait_for_version=V` waits up to `timeout_ms` (default 10 s, at most 5 min) for data
    planes, and the contract test starts none: each such wait is cut to 50 ms so the run's time goes to other cases.
    Values that are not numbers are left alone (the API must refuse them with a 400)."""
    if case.operation.path != "/clustering/status" or not isinstance(case.query, dict):
        return
    if "wait_for_version" not in case.query:
        return
    given = case.query.get("timeout_ms")
    if given is None:
        case.query["timeout_ms"] = WAIT_MS
        return
    try:
        ms = int(str(given))
    except ValueError:
        return
    if ms > WAIT_MS:
        case.query["timeout_ms"] = WAIT_MS
