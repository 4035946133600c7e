package import GatewayModel

/// Compiles one plugin entity's `config` (defaults already filled by the schema) into an immutable
/// ``GatewayPlugin``, once per snapshot, off the event loops.
///
/// A plugin that needs more of the snapshot than its own config (an auth plugin's consumers and credentials, its
/// CA certificates) reads it from the ``PluginSnapshot`` given to ``make`` and lists the entity types it reads in
/// ``reads``: a delta that touches one of them recompiles the chains (``PluginChains/reads``).
package struct PluginFactory: Sendable {
    /// The plugin's name, as in the snapshot's plugin entities and the schema.
    package var name: String
    /// Kong's static handler priority: higher runs earlier.
    package var priority: Int
    /// The entity types (besides `plugins`) the compiled plugin depends on.
    package var reads: Set<String>
    package var make: @Sendable (_ config: JSONObject, _ snapshot: PluginSnapshot) throws -> any GatewayPlugin

    /// A factory whose plugins depend on their own config only.
    package init(name: String, priority: Int,
                 make: @escaping @Sendable (_ config: JSONObject) throws -> any GatewayPlugin)
    {
        self.name = name
        self.priority = priority
        self.reads = []
        self.make = { config, _ in try make(config) }
    }

    /// A factory whose plugins also read the snapshot's entities of the types in `reads` (and `_trusted_ips`).
    package init(name: String, priority: Int, reads: Set<String>,
                 compile: @escaping @Sendable (_ config: JSONObject, _ snapshot: PluginSnapshot) throws
                     -> any GatewayPlugin)
    {
        self.name = name
        self.priority = priority
        self.reads = reads
        self.make = compile
    }
}

/// Why a plugin entity's config cannot be compiled (the schema accepted it, the run time cannot use it).
package struct PluginConfigError: Error, Sendable, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// The plugins this build can run, by name. A plugin entity whose name is not here still covers its routes:
/// their requests are refused (500), never forwarded unchecked.
package struct PluginRegistry: Sendable {
    package private(set) var factories: [String: PluginFactory]

    package init(_ factories: [PluginFactory]) {
        var byName: [String: PluginFactory] = [:]
        for factory in factories { byName[factory.name] = factory }
        self.factories = byName
    }

    package subscript(name: String) -> PluginFactory? { self.factories[name] }

    /// The registry the data plane runs with.
    package static let builtIn = PluginRegistry([
        RequestTerminationPlugin.factory, HeaderCertAuthPlugin.factory,
    ])
}
