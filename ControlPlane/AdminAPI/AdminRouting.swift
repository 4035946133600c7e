import GatewayModel
import HTTPTypes
import Hummingbird
import Logging

typealias AdminHandler = @Sendable (Request, BasicRequestContext) async throws -> Response

/// Registers handlers per method on a path; the other methods answer Kong's 405.
struct AdminRoutes {
    let router: Router<BasicRequestContext>
    static let methods: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete]

    func add(_ path: String, _ handlers: [HTTPRequest.Method: AdminHandler]) {
        for method in Self.methods {
            if let handler = handlers[method] {
                self.router.on(RouterPath(path), method: method, use: handler)
            } else {
                self.router.on(RouterPath(path), method: method) { _, _ -> Response in
                    AdminResponse.error(GatewayError(status: 405, message: "Method not allowed"))
                }
            }
        }
    }
}

/// What every write records: the author and comment headers, or the request line.
extension ChangeInfo {
    init(_ request: Request) {
        let author = request.headers[HTTPField.Name("X-Portcullis-Author")!]
        let comment = request.headers[HTTPField.Name("X-Portcullis-Comment")!]
        self.init(author: author, comment: comment ?? "\(request.method.rawValue) \(request.uri.path)")
    }
}
