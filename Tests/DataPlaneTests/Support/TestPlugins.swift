import DataPlane
import GatewayModel
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// What the test plugins saw, shared with the test.
final class Journal: Sendable {
    struct Entry: Sendable, Equatable, CustomStringConvertible {
        var label: String
        var path: String
        var outcome: PluginContext.Outcome
        var status: UInt?
        var description: String { "\(self.label) \(self.path) \(self.outcome) \(self.status.map(String.init) ?? "-")" }
    }

    private let entries = Mutex<[Entry]>([])

    func add(_ entry: Entry) { self.entries.withLock { $0.append(entry) } }
    var all: [Entry] { self.entries.withLock { $0 } }
    func logs(_ label: String) -> [Entry] { self.all.filter { $0.label == label } }

    /// The `log` entries of `label` once there are `count` (log runs after the response is sent, so the client
    /// can see the response first); gives up after 2 s.
    func logs(_ label: String, count: Int) async throws -> [Entry] {
        let deadline = ContinuousClock.now + .seconds(2)
        while self.logs(label).count < count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        return self.logs(label)
    }
}

/// Appends `config.label` to the upstream request's `X-Order` (access), adds `X-Trace: label` and removes
/// `X-Upstream-Error` from every response head (header_filter), and records each `log`.
final class TracePlugin: GatewayPlugin {
    let label: String
    let journal: Journal
    let phases: PluginPhases = [.access, .headerFilter, .log]

    init(config: JSONObject, journal: Journal) {
        self.label = config["label"]?.stringValue ?? "?"
        self.journal = journal
    }

    func access(_ context: PluginContext) -> AccessResult {
        let seen = context.request.headers.first(name: "x-order")
        context.request.headers.replaceOrAdd(name: "x-order", value: seen.map { $0 + "," + self.label } ?? self.label)
        return .proceed
    }

    func headerFilter(_ response: inout HTTPResponseHead, context: PluginContext) {
        response.headers.add(name: "x-trace", value: self.label)
        response.headers.remove(name: "x-upstream-error")
    }

    func log(_ context: PluginContext) {
        self.journal.add(.init(label: self.label, path: String(context.path), outcome: context.outcome,
                               status: context.responseStatus?.code))
    }
}

/// Authenticates the consumer named by `X-Test-User` and sends the verified `X-Consumer-ID` upstream; reports in
/// `X-Forged-Seen` any identity header a client sent that reached it.
final class TestAuthPlugin: GatewayPlugin {
    let phases: PluginPhases = .access

    func access(_ context: PluginContext) -> AccessResult {
        for name in ["x-consumer-id", "x-consumer-username", "x-client-cert-dn", "x-client-cert-san"]
        where context.request.headers.contains(name: name) {
            context.request.headers.add(name: "x-forged-seen", value: name)
        }
        guard let user = context.request.headers.first(name: "x-test-user") else { return .proceed }
        let id = TestContent.id("consumer", user)
        context.authenticate(consumer: .init(id: id, username: user), credential: .init(id: "cred-" + user))
        context.request.headers.replaceOrAdd(name: "x-consumer-id", value: id)
        context.request.headers.replaceOrAdd(name: "x-consumer-username", value: user)
        return .proceed
    }
}

/// Answers `config.status` with `config.message` and `X-Exit: yes`, when the request carries `X-Exit`.
final class ExitPlugin: GatewayPlugin {
    let phases: PluginPhases = .access
    let response: PluginResponse

    init(config: JSONObject) throws {
        guard let status = config["status"]?.intValue else { throw PluginConfigError("status is required") }
        self.response = .message(HTTPResponseStatus(statusCode: Int(status)), config["message"]?.stringValue ?? "",
                                 headers: ["X-Exit": "yes"])
    }

    func access(_ context: PluginContext) -> AccessResult {
        context.request.headers.contains(name: "x-exit") ? .respond(self.response) : .proceed
    }
}

/// Suspends `access` for `config.ms` on another event loop group, then (on the request's loop) adds
/// `X-Slow: done` and proceeds, or answers 401 (`config.deny`), or fails (`config.fail`).
final class SlowPlugin: GatewayPlugin {
    let phases: PluginPhases = .access
    let delay: TimeAmount
    let deny: Bool
    let fail: Bool

    struct Failed: Error {}

    init(config: JSONObject) {
        self.delay = .milliseconds(config["ms"]?.intValue ?? 200)
        self.deny = config["deny"]?.boolValue ?? false
        self.fail = config["fail"]?.boolValue ?? false
    }

    func access(_ context: PluginContext) -> AccessResult {
        let elsewhere = MultiThreadedEventLoopGroup.singleton.next()
        let fail = self.fail
        let waited = elsewhere.scheduleTask(in: self.delay) { () throws -> Void in
            if fail { throw Failed() }
        }.futureResult
        let deny = self.deny
        let outcome = waited.hop(to: context.eventLoop).assumeIsolated().map { (_: Void) -> AccessResult in
            if deny { return .respond(.message(.unauthorized, "slow no")) }
            context.request.headers.add(name: "x-slow", value: "done")
            return .proceed
        }.nonisolated()
        return .suspend(outcome)
    }
}

/// Sets header values no HTTP message may carry (a line break inside), on the upstream request when the request
/// has `X-Taint: request`, on the response when it has `X-Taint: response` (with a valid `X-Fine` beside it).
final class TaintPlugin: GatewayPlugin {
    let phases: PluginPhases = [.access, .headerFilter]

    func access(_ context: PluginContext) -> AccessResult {
        if context.request.headers.first(name: "x-taint") == "request" {
            context.request.headers.add(name: "X-Injected", value: "a\r\nX-Evil: 1")
        }
        return .proceed
    }

    func headerFilter(_ response: inout HTTPResponseHead, context: PluginContext) {
        guard context.request.headers.first(name: "x-taint") == "response" else { return }
        response.headers.add(name: "X-Injected", value: "b\nX-Evil: 2")
        response.headers.add(name: "Bad Name", value: "c")
        response.headers.add(name: "X-Fine", value: "ok")
    }
}

enum TestPlugins {
    /// The registry of the pipeline tests: trace plugins at several priorities, auth, exit, slow.
    static func registry(_ journal: Journal) -> PluginRegistry {
        func trace(_ name: String, _ priority: Int) -> PluginFactory {
            PluginFactory(name: name, priority: priority) { TracePlugin(config: $0, journal: journal) }
        }
        return PluginRegistry([
            PluginFactory(name: "auth", priority: 1000) { _ in TestAuthPlugin() },
            trace("early", 2000), trace("alpha", 100), trace("beta", 50), trace("gamma", 50), trace("scoped", 40),
            PluginFactory(name: "exit", priority: 60) { try ExitPlugin(config: $0) },
            PluginFactory(name: "slow", priority: 70) { SlowPlugin(config: $0) },
            PluginFactory(name: "taint", priority: 30) { _ in TaintPlugin() },
        ])
    }
}
