/// The plugins that may run for the requests of one route (or of every route sharing it), in the order they run:
/// descending priority, ties by name. Compiled once per snapshot; nothing here is built per request.
final class PluginChain: Sendable {
    /// One plugin name's place in the chain and its candidate instances.
    struct Slot: Sendable {
        let name: String
        let priority: Int
        /// The most specific instance that does not depend on the consumer (route+service, route, service,
        /// global), if any.
        let base: PluginInstance?
        /// Per consumer id, the consumer-scoped instance that beats `base` for that consumer (only those).
        let byConsumer: [String: PluginInstance]

        /// The instance this request runs, given the consumer identified so far.
        func resolve(consumer: String?) -> PluginInstance? {
            if let consumer, !self.byConsumer.isEmpty, let instance = self.byConsumer[consumer] { return instance }
            return self.base
        }
    }

    let slots: [Slot]
    /// Whether some slot has consumer-scoped instances: only then is resolution per request.
    let consumerScoped: Bool
    /// Plugins whose consumer-independent instance this build cannot run: every request on the chain is refused
    /// before any plugin runs.
    let refused: [String]

    var isEmpty: Bool { self.slots.isEmpty }
    /// The chain's only plugin when it can decide from the raw request (``RawAccessPlugin``): one slot, no
    /// consumer-scoped instance, an instance with no phase but `access`.
    let rawAccess: (any RawAccessPlugin)?

    static let empty = PluginChain(slots: [])

    init(slots: [Slot]) {
        self.slots = slots
        self.consumerScoped = slots.contains { !$0.byConsumer.isEmpty }
        if slots.count == 1, !self.consumerScoped, let base = slots[0].base, base.phases == .access,
            let plugin = base.plugin as? any RawAccessPlugin
        {
            self.rawAccess = plugin
        } else {
            self.rawAccess = nil
        }
        self.refused = slots.compactMap { slot in
            guard let base = slot.base, base.plugin == nil else { return nil }
            return slot.name
        }
    }

    /// The chain of the instances in `candidates` (all applicable to the same requests): per plugin name, the
    /// base instance and the consumer-scoped ones that beat it.
    convenience init(candidates: [PluginInstance]) {
        guard !candidates.isEmpty else {
            self.init(slots: [])
            return
        }
        var byName: [String: [PluginInstance]] = [:]
        for instance in candidates { byName[instance.name, default: []].append(instance) }
        var slots: [Slot] = []
        slots.reserveCapacity(byName.count)
        for (name, instances) in byName {
            var base: PluginInstance?
            var byConsumer: [String: PluginInstance] = [:]
            for instance in instances where instance.consumerID == nil {
                if base.map({ instance.scope < $0.scope }) ?? true { base = instance }
            }
            for instance in instances {
                guard let consumer = instance.consumerID else { continue }
                if let base, base.scope < instance.scope { continue }
                if byConsumer[consumer].map({ instance.scope < $0.scope }) ?? true { byConsumer[consumer] = instance }
            }
            let priority = (base ?? instances[0]).priority
            slots.append(Slot(name: name, priority: priority, base: base, byConsumer: byConsumer))
        }
        slots.sort { $0.priority != $1.priority ? $0.priority > $1.priority : $0.name < $1.name }
        self.init(slots: slots)
    }
}
