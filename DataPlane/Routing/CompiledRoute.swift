package import GatewayModel
import Synchronization

/// A route prepared for matching: everything derived from its entity once, when a snapshot is compiled.
package final class CompiledRoute: Sendable {
    package let id: String
    /// The id as a number in id order, the last tie-break between routes (``RouteIDOrder``).
    let idOrder: UInt128
    package let name: String?
    package let serviceID: String?
    package let protocols: Set<String>
    /// nil: any method.
    let methods: Set<String>?
    /// Lowercased plain hosts, `host` or `host:port`.
    let plainHosts: [String]
    /// Lowercased wildcard hosts (`*.example.com`, `example.*`).
    let wildcardHosts: [String]
    /// Header name (lowercased) → accepted values (lowercased); every name must match one of its values.
    let headers: [(name: String, values: Set<String>)]
    /// Normalised plain path prefixes.
    let plainPaths: [String]
    /// PCRE, anchored at the start of the normalised path (Kong's router).
    let regexPaths: [PCRERegex]
    /// For each regex path, the literal text every match starts with ("" when none): the router only tries
    /// the regex on paths that start with it.
    let regexPrefixes: [String]
    package let stripPath: Bool
    package let preserveHost: Bool
    package let regexPriority: Int64
    package let httpsRedirectStatus: Int
    /// How many of Kong's attribute kinds the route sets (methods, hosts, headers, paths, snis).
    let kinds: Int
    package let entity: JSONObject
    /// This route's request metrics, made on its first request (``DataPlaneMetrics/routeMetrics(_:serviceLabel:)``)
    /// and kept while the route is unchanged.
    let metrics = AtomicLazyReference<RouteMetrics>()

    init(_ entity: JSONObject) throws(RouterError) {
        self.entity = entity
        self.id = entity["id"]?.stringValue ?? ""
        self.idOrder = RouteIDOrder.key(self.id)
        self.name = entity["name"]?.stringValue
        self.serviceID = entity["service"]?["id"]?.stringValue
        self.protocols = Self.protocolSet(entity["protocols"]?.arrayValue ?? ["http", "https"])
        // Each attribute is looked up once: for its own field and for the count of attribute kinds.
        let methodsValue = entity["methods"]
        let hostsValue = entity["hosts"]
        let headersValue = entity["headers"]
        let pathsValue = entity["paths"]
        let methods = (methodsValue?.arrayValue ?? []).compactMap(\.stringValue)
        self.methods = methods.isEmpty ? nil : Set(methods)
        let hosts = (hostsValue?.arrayValue ?? []).compactMap { $0.stringValue?.lowercased() }
        self.plainHosts = hosts.filter { !$0.contains("*") }
        self.wildcardHosts = hosts.filter { $0.contains("*") }
        var headers: [(String, Set<String>)] = []
        for (name, values) in headersValue?.objectValue ?? [:] {
            headers.append((name.lowercased(), Set((values.arrayValue ?? []).compactMap { $0.stringValue?.lowercased() })))
        }
        self.headers = headers.sorted { $0.0 < $1.0 }
        var plain: [String] = []
        var regexes: [PCRERegex] = []
        var prefixes: [String] = []
        for p in (pathsValue?.arrayValue ?? []).compactMap(\.stringValue) {
            if p.hasPrefix("~") {
                do {
                    // Anchored at the start, as Kong's router does.
                    regexes.append(try PCRERegex(String(p.dropFirst()), anchored: true))
                    prefixes.append(Self.literalPrefix(of: p.dropFirst()))
                } catch {
                    throw RouterError(message: "route \(self.name ?? self.id): invalid regex path '\(p)'")
                }
            } else {
                plain.append(PathNormalizer.normalize(Substring(p)))
            }
        }
        if plain.count > 1 { plain.sort { $0.count > $1.count } }
        self.plainPaths = plain
        self.regexPaths = regexes
        self.regexPrefixes = prefixes
        self.stripPath = entity["strip_path"]?.boolValue ?? true
        self.preserveHost = entity["preserve_host"]?.boolValue ?? false
        self.regexPriority = entity["regex_priority"]?.intValue ?? 0
        self.httpsRedirectStatus = Int(entity["https_redirect_status_code"]?.intValue ?? 426)
        func isSet(_ value: JSON?) -> Bool {
            switch value {
            case .array(let a)?: return !a.isEmpty
            case .object(let o)?: return !o.isEmpty
            default: return false
            }
        }
        // Kong's attribute kinds: methods, hosts, headers, paths, snis.
        var kinds = 0
        if isSet(methodsValue) { kinds += 1 }
        if isSet(hostsValue) { kinds += 1 }
        if isSet(headersValue) { kinds += 1 }
        if isSet(pathsValue) { kinds += 1 }
        if isSet(entity["snis"]) { kinds += 1 }
        self.kinds = kinds
    }

    /// The usual protocol sets, built once and shared by every route that lists them.
    private static let httpAndHTTPS: Set<String> = ["http", "https"]
    private static let httpsOnly: Set<String> = ["https"]
    private static let httpOnly: Set<String> = ["http"]

    /// The strings of a route's `protocols`, as a set.
    static func protocolSet(_ listed: [JSON]) -> Set<String> {
        if listed.count == 2, case .string(let a) = listed[0], case .string(let b) = listed[1],
            (a == "http" && b == "https") || (a == "https" && b == "http")
        {
            return Self.httpAndHTTPS
        }
        if listed.count == 1, case .string(let a) = listed[0] {
            if a == "https" { return Self.httpsOnly }
            if a == "http" { return Self.httpOnly }
        }
        return Set(listed.compactMap(\.stringValue))
    }

    /// The literal characters a regex must match first: up to the first metacharacter, minus a last character
    /// a quantifier makes optional. Alternation anywhere makes it "" (no prefix can be assumed).
    static func literalPrefix(of pattern: Substring) -> String {
        if pattern.contains("|") { return "" }
        var out: [Character] = []
        var chars = pattern.makeIterator()
        while let c = chars.next() {
            if c.isLetter || c.isNumber || c == "/" || c == "-" || c == "_" || c == "~" || c == "%" || c == "=" || c == "," || c == ":" || c == "@" {
                out.append(c)
                continue
            }
            if c == "?" || c == "*" || c == "{" { if !out.isEmpty { out.removeLast() } }
            break
        }
        return String(out)
    }

    /// Methods and headers (hosts and paths are matched through the router's indexes).
    func matchesMethodAndHeaders(method: String, header: (String) -> [String]) -> Bool {
        if let methods = self.methods, !methods.contains(method) { return false }
        for (name, values) in self.headers {
            let given = header(name)
            guard given.contains(where: { values.contains($0.lowercased()) }) else { return false }
        }
        return true
    }
}

/// Why a snapshot's routes cannot be compiled.
package struct RouterError: Error, Sendable, CustomStringConvertible {
    package var message: String
    package var description: String { self.message }
}
