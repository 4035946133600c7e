import NIOCore
import NIOHTTP1

/// The plugin phases of one request: walks its ``PluginChain`` through `access` (resumable after a suspension),
/// `header_filter` and `log`. Confined to the connection's event loop; made only for routes with plugins.
final class PluginRun {
    let chain: PluginChain
    let context: PluginContext
    /// The next slot whose `access` runs.
    private var next = 0
    /// Per slot, the instance chosen for this request; only for chains with consumer-scoped instances (otherwise
    /// every slot's base instance applies and nothing is stored).
    private var resolved: [PluginInstance?] = []
    /// The answer `access` ended with, if any, and the plugin that gave it (nil for a plugin failure).
    private(set) var exit: PluginResponse?
    private(set) var exitPlugin: String?
    private var logged = false

    /// Kong's answer when a plugin fails (`kong/init.lua`: "An unexpected error occurred").
    static let failure = PluginResponse(status: .internalServerError, body: ProxyAnswers.unexpected)

    enum Step {
        case proceed
        case respond(PluginResponse)
        case suspended(EventLoopFuture<AccessResult>)
    }

    init(chain: PluginChain, context: PluginContext) {
        self.chain = chain
        self.context = context
        if chain.consumerScoped { self.resolved = Array(repeating: nil, count: chain.slots.count) }
    }

    /// Runs `access` from the next plugin on, until one answers or suspends, or all proceeded.
    func access() -> Step {
        while self.next < self.chain.slots.count {
            let index = self.next
            self.next += 1
            guard let instance = self.resolve(index) else { continue }
            guard let plugin = instance.plugin else {
                // A consumer-scoped instance this build cannot run: refused, never skipped.
                return self.end(with: Self.failure, by: nil)
            }
            guard instance.phases.contains(.access) else { continue }
            switch plugin.access(self.context) {
            case .proceed:
                continue
            case .respond(let response):
                return self.end(with: response, by: instance.name)
            case .suspend(let future):
                return .suspended(future)
            }
        }
        return .proceed
    }

    /// Continues after a suspension with the future's outcome.
    func resume(_ result: Result<AccessResult, any Error>) -> Step {
        switch result {
        case .success(.proceed):
            return self.access()
        case .success(.respond(let response)):
            return self.end(with: response, by: self.chain.slots[self.next - 1].name)
        case .success(.suspend(let future)):
            return .suspended(future)
        case .failure:
            return self.end(with: Self.failure, by: nil)
        }
    }

    private func end(with response: PluginResponse, by plugin: String?) -> Step {
        self.exit = response
        self.exitPlugin = plugin
        self.resolveRemaining()
        return .respond(response)
    }

    /// Chooses the instances of the plugins whose `access` did not run, so their later phases run.
    private func resolveRemaining() {
        while self.next < self.chain.slots.count {
            _ = self.resolve(self.next)
            self.next += 1
        }
    }

    private func resolve(_ index: Int) -> PluginInstance? {
        guard self.chain.consumerScoped else { return self.chain.slots[index].base }
        let instance = self.chain.slots[index].resolve(consumer: self.context.consumer?.id)
        self.resolved[index] = instance
        return instance
    }

    /// The instance slot `index` runs with, once resolved.
    private func instance(_ index: Int) -> PluginInstance? {
        self.chain.consumerScoped ? self.resolved[index] : self.chain.slots[index].base
    }

    /// Whether a plugin of this request runs `header_filter`: without one the proxy may send the response head it
    /// built without making it an `HTTPResponseHead` (it then reports the status with ``responded(_:)``).
    var filtersHeaders: Bool {
        self.chain.slots.indices.contains { self.instance($0)?.phases.contains(.headerFilter) == true }
    }

    /// Records the status of a response head that went out without `header_filter` (for `log`).
    func responded(_ status: HTTPResponseStatus) {
        self.context.responseStatus = status
    }

    /// Runs `header_filter` over the response head about to be sent.
    func headerFilter(_ head: inout HTTPResponseHead) {
        for index in self.chain.slots.indices {
            guard let instance = self.instance(index), let plugin = instance.plugin,
                  instance.phases.contains(.headerFilter) else { continue }
            plugin.headerFilter(&head, context: self.context)
        }
        self.context.responseStatus = head.status
    }

    /// Runs `log`, once; `outcome` says how the request ended.
    func log(_ outcome: PluginContext.Outcome) {
        guard !self.logged else { return }
        self.logged = true
        if self.context.outcome == .pending { self.context.outcome = outcome }
        self.resolveRemaining()
        for index in self.chain.slots.indices {
            guard let instance = self.instance(index), let plugin = instance.plugin,
                  instance.phases.contains(.log) else { continue }
            plugin.log(self.context)
        }
    }
}
