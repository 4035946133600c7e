import GatewayModel
import HTTPTypes
import Hummingbird

/// `GET /clustering/data-planes` and `GET /clustering/status`.
struct ClusteringController {
    let builder: SnapshotBuilder
    let registry: DataPlaneRegistry

    func register(_ routes: AdminRoutes) {
        routes.add("/clustering/data-planes", [.get: { _, _ in
            AdminResponse.json(["data": .array(self.registry.snapshot(newest: self.builder.latest)), "next": .null])
        }])
        routes.add("/clustering/status", [.get: { _, _ in
            AdminResponse.json(self.registry.summary(newest: self.builder.latest))
        }])
    }
}
