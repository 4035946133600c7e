import Yams

/// Converts between YAML text and ``JSON`` with YAML 1.1 core-schema typing (what decK and Kong read).
package enum YAMLBridge {
    package struct Problem: Error, Sendable, CustomStringConvertible {
        package var description: String
    }

    /// Upper bound on nodes produced, so anchors and aliases cannot expand a small document into a huge one.
    package static let maxNodes = 20_000_000

    package static func parse(_ text: String) throws(Problem) -> JSON {
        let parser: Yams.Parser
        let root: Node?
        do {
            parser = try Yams.Parser(yaml: text)
            root = try parser.singleRoot()
        } catch {
            throw Problem(description: "invalid YAML: \(error)")
        }
        guard let root else { return .null }
        var budget = self.maxNodes
        var anchors = Set<ObjectIdentifier>()
        // Yams composes an alias as the very node it names (never as `Node.alias`), so an alias shows up as a second
        // visit of the same anchor. Nodes hold their anchor weakly and the parser owns it: keep the parser alive.
        return try withExtendedLifetime(parser) { () throws(Problem) -> JSON in
            try self.convert(root, budget: &budget, anchors: &anchors, depth: 0)
        }
    }

    private static func convert(
        _ node: Node,
        budget: inout Int,
        anchors: inout Set<ObjectIdentifier>,
        depth: Int
    ) throws(Problem) -> JSON {
        budget -= 1
        guard budget > 0 else { throw Problem(description: "YAML document expands to too many nodes") }
        guard depth < JSONParser.maxDepth else { throw Problem(description: "YAML nesting too deep") }
        if let anchor = node.anchor, !anchors.insert(ObjectIdentifier(anchor)).inserted {
            throw Problem(description: "YAML aliases are not supported")
        }
        switch node {
        case .scalar(let scalar):
            switch node.tag.rawValue {
            case Tag.Name.null.rawValue: return .null
            case Tag.Name.bool.rawValue: return node.bool.map(JSON.bool) ?? .string(scalar.string)
            case Tag.Name.int.rawValue:
                if let i = node.int { return .int(Int64(i)) }
                return .string(scalar.string)
            case Tag.Name.float.rawValue:
                if let d = node.float, d.isFinite { return .double(d) }
                return .string(scalar.string)
            default: return .string(scalar.string)
            }
        case .sequence(let seq):
            var out: [JSON] = []
            out.reserveCapacity(seq.count)
            for n in seq { out.append(try self.convert(n, budget: &budget, anchors: &anchors, depth: depth + 1)) }
            return .array(out)
        case .mapping(let map):
            // Collected, then sorted once (a repeated key keeps its last value).
            var out: [(String, JSON)] = []
            out.reserveCapacity(map.count)
            for (k, v) in map {
                guard case .scalar(let ks) = k else { throw Problem(description: "YAML mapping keys must be scalars") }
                out.append((ks.string, try self.convert(v, budget: &budget, anchors: &anchors, depth: depth + 1)))
            }
            return .object(JSONObject(out))
        case .alias:
            throw Problem(description: "YAML aliases are not supported")
        }
    }

    /// YAML text with sorted keys; multi-line strings (PEM certificates) as literal blocks.
    package static func emit(_ value: JSON) -> String {
        let node = self.node(value)
        return (try? Yams.serialize(node: node, sortKeys: true)) ?? JSONWriter.string(value, pretty: true)
    }

    private static func node(_ value: JSON) -> Node {
        switch value {
        case .null: return Node("null", Tag(.null))
        case .bool(let b): return Node(b ? "true" : "false", Tag(.bool))
        case .int(let i): return Node(String(i), Tag(.int))
        case .double(let d): return Node(String(d), Tag(.float))
        case .string(let s):
            if s.contains("\n") { return .scalar(Node.Scalar(s, Tag(.str), .literal)) }
            return .scalar(s.represented())
        case .array(let a): return Node(a.map(self.node))
        case .object(let o):
            return Node(o.keys.sorted().map { k in (Node(k), self.node(o[k] ?? .null)) })
        }
    }
}
