import GatewayModel
import HTTPTypes
import Hummingbird
import Logging

typealias AdminHandler = @Sendable (Request, BasicRequestContext) async throws -> Response

/// Registers handlers per method on a path. HEAD answers as GET without the body, OPTIONS with 204 and `Allow`;
/// the other methods answer Kong's 405, with `Allow` listing what the path supports (RFC 9110).
struct AdminRoutes {
    let router: Router<BasicRequestContext>
    static let methods: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete]
    /// Methods no admin path implements, refused with 405 rather than the router's 404.
    static let refused: [HTTPRequest.Method] = [.trace, .connect]

    func add(_ path: String, _ handlers: [HTTPRequest.Method: AdminHandler]) {
        var allowed = Self.methods.filter { handlers[$0] != nil }.map(\.rawValue)
        if handlers[.get] != nil { allowed.append("HEAD") }
        allowed.append("OPTIONS")
        let allow = allowed.joined(separator: ", ")
        for method in Self.methods + Self.refused {
            if let handler = handlers[method] {
                self.router.on(RouterPath(path), method: method, use: handler)
            } else {
                self.router.on(RouterPath(path), method: method) { _, _ -> Response in
                    var response = AdminResponse.error(GatewayError(status: 405, message: "Method not allowed"))
                    response.headers[.allow] = allow
                    return response
                }
            }
        }
        if let get = handlers[.get] {
            // AdminErrorMiddleware drops the body of every HEAD answer, errors included.
            self.router.on(RouterPath(path), method: .head, use: get)
        }
        self.router.on(RouterPath(path), method: .options) { _, _ -> Response in
            var headers = HTTPFields()
            headers[.allow] = allow
            return Response(status: .noContent, headers: headers)
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
