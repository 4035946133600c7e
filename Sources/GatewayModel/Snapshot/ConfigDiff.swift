/// Entity-level differences between two configurations: what was added, removed or changed, by type.
package enum ConfigDiff {
    /// Fields that change on every write and say nothing about behaviour.
    static let ignored: Set<String> = ["created_at", "updated_at"]

    package static func diff(from a: ConfigContent, to b: ConfigContent) -> JSON {
        var added: JSONObject = [:]
        var removed: JSONObject = [:]
        var changed: JSONObject = [:]
        var total = (added: 0, removed: 0, changed: 0)
        for schema in EntityRegistry.all {
            let left = Dictionary(a[schema.name].map { ($0["id"]?.stringValue ?? "", $0) }, uniquingKeysWith: { x, _ in x })
            let right = Dictionary(b[schema.name].map { ($0["id"]?.stringValue ?? "", $0) }, uniquingKeysWith: { x, _ in x })
            let label = { (e: JSONObject) -> JSON in
                var o: JSONObject = ["id": e["id"] ?? .null]
                if let key = schema.endpointKey, let v = e[key], !v.isNull { o[key] = v }
                if schema.name == "plugins" { o["name"] = e["name"] ?? .null }
                return .object(o)
            }
            let add = right.keys.filter { left[$0] == nil }.sorted().compactMap { right[$0].map(label) }
            let rem = left.keys.filter { right[$0] == nil }.sorted().compactMap { left[$0].map(label) }
            var chg: [JSON] = []
            for id in left.keys.sorted() {
                guard let l = left[id], let r = right[id] else { continue }
                var fields: JSONObject = [:]
                for k in Set(l.keys).union(r.keys).sorted() where !self.ignored.contains(k) {
                    let lv = l[k] ?? .null
                    let rv = r[k] ?? .null
                    if !lv.semanticallyEquals(rv) { fields[k] = ["old": lv, "new": rv] }
                }
                if !fields.isEmpty {
                    var entry = label(r).objectValue ?? [:]
                    entry["fields"] = .object(fields)
                    chg.append(.object(entry))
                }
            }
            if !add.isEmpty { added[schema.name] = .array(add) }
            if !rem.isEmpty { removed[schema.name] = .array(rem) }
            if !chg.isEmpty { changed[schema.name] = .array(chg) }
            total.added += add.count
            total.removed += rem.count
            total.changed += chg.count
        }
        var settings: JSONObject = [:]
        if a.trustedIPs != b.trustedIPs {
            settings["trusted_ips"] = ["old": .array(a.trustedIPs.map(JSON.string)), "new": .array(b.trustedIPs.map(JSON.string))]
        }
        return [
            "added": .object(added),
            "removed": .object(removed),
            "changed": .object(changed),
            "settings": .object(settings),
            "summary": ["added": .int(Int64(total.added)), "removed": .int(Int64(total.removed)),
                        "changed": .int(Int64(total.changed))],
        ]
    }
}
