import GatewayModel
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// JSON responses for the admin API, written with the canonical encoder (sorted keys, `/` unescaped).
enum AdminResponse {
    static func json(_ value: JSON, status: HTTPResponse.Status = .ok, pretty: Bool = false) -> Response {
        let bytes = JSONWriter.bytes(value, pretty: pretty)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func text(_ text: String, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func noContent() -> Response { Response(status: .noContent) }

    static func notModified() -> Response { Response(status: .notModified) }

    static func error(_ error: GatewayError) -> Response {
        self.json(error.json, status: HTTPResponse.Status(code: error.status))
    }
}

/// Turns every failure into Kong's error bodies: `GatewayError`s as they are, the router's 404 as
/// `{"message":"Not found"}`, oversized bodies as 413, anything unexpected as a logged 500. A HEAD request gets
/// the GET answer's status and headers (its Content-Length too) without the body.
struct AdminErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let response = try await self.answer(request, context: context, next: next)
        guard request.method == .head else { return response }
        return Response(status: response.status, headers: response.headers, body: ResponseBody())
    }

    private func answer(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as GatewayError {
            if error.status >= 500 {
                context.logger.error("admin request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            }
            return AdminResponse.error(error)
        } catch let error as NIOTooManyBytesError {
            _ = error
            return AdminResponse.error(GatewayError(status: 413, message: "Request body too large"))
        } catch let error as HTTPError {
            switch error.status {
            case .notFound: return AdminResponse.error(.notFound)
            case .methodNotAllowed: return AdminResponse.error(GatewayError(status: 405, message: "Method not allowed"))
            default:
                return AdminResponse.error(GatewayError(status: error.status.code, message: error.body ?? error.status.reasonPhrase))
            }
        } catch {
            context.logger.error("admin request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return AdminResponse.error(GatewayError(status: 500, message: "An unexpected error occurred"))
        }
    }
}

/// Requires the admin token (`Kong-Admin-Token: T` or `Authorization: Bearer T`) when one is configured.
struct AdminTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let given = request.headers[HTTPField.Name("Kong-Admin-Token")!]
            ?? request.headers[.authorization].flatMap { v -> String? in
                v.hasPrefix("Bearer ") ? String(v.dropFirst(7)) : nil
            }
        guard let given, Self.constantTimeEquals(Array(given.utf8), Array(self.token.utf8)) else {
            return AdminResponse.error(
                GatewayError(status: 401, message: "Invalid credentials. Token or User credentials required"))
        }
        return try await next(request, context)
    }

    /// Compares every byte of the longer input whatever the contents, so the time taken says nothing about where
    /// a guess first differs (only, at most, about the lengths).
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff: UInt8 = a.count == b.count ? 0 : 1
        for i in 0..<max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return diff == 0
    }
}

/// Adds `X-Portcullis-Config-Version` to successful writes: the configuration version that includes the change
/// (or a later one), so a client can wait until data planes report it.
struct ConfigVersionMiddleware<Context: RequestContext>: RouterMiddleware {
    let store: ConfigStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var response = try await next(request, context)
        if request.method != .get, request.method != .head, request.method != .options,
            (200..<300).contains(response.status.code)
        {
            let version = try await self.store.currentVersion()
            response.headers[HTTPField.Name("X-Portcullis-Config-Version")!] = String(version)
        }
        return response
    }
}
