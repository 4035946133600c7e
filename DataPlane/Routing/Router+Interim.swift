package import GatewayModel

extension Router {
    /// Interim: recompiles the index with every unchanged route reused (replaced by an incremental update).
    package func updated(removing: Set<String>, upserting: [[String: JSON]]) throws(RouterError) -> Router {
        if removing.isEmpty && upserting.isEmpty { return self }
        let upserted = Set(upserting.compactMap { $0["id"]?.stringValue })
        var entities = self.routes.filter { !removing.contains($0.id) && !upserted.contains($0.id) }.map(\.entity)
        entities.append(contentsOf: upserting)
        return try Router(content: ConfigContent(entities: ["routes": entities]), previous: self, changed: upserted)
    }
}
