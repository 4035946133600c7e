import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Synchronization

/// Fetches OCSP responses and CRLs over plain HTTP, never on a caller's event loop, within a time and size bound.
///
/// Only `http://` URLs: OCSP and CRL distribution points are plain HTTP by convention (RFC 5280 §4.2.1.13, RFC 6960
/// appendix A; the answers are signed) and an `https://` one could need revocation checking itself. Redirects are
/// not followed. Each call is bounded as a whole (connect, head and body) by ``timeout``.
struct RevocationFetcher: Sendable {
    /// An HTTP proxy for the fetches (`http_proxy_host`/`http_proxy_port`).
    struct Proxy: Sendable, Hashable {
        var host: String
        var port: Int
    }

    let timeout: Duration
    let proxy: Proxy?

    /// Clients live as long as the process (one per proxy setting), so compiled plugin instances can come and go
    /// without shutting a client down under a running fetch.
    private static let clients = Mutex<[Proxy?: HTTPClient]>([:])

    private var client: HTTPClient {
        let proxy = self.proxy
        return Self.clients.withLock { clients in
            if let client = clients[proxy] { return client }
            var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
            configuration.decompression = .disabled
            configuration.connectionPool = .init(idleTimeout: .seconds(30))
            // A refused connection is an answer ("unreachable"), not something to retry until the deadline.
            configuration.connectionPool.retryConnectionEstablishment = false
            if let proxy { configuration.proxy = .server(host: proxy.host, port: proxy.port) }
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            clients[proxy] = client
            return client
        }
    }

    /// `GET url` (a CRL) or `POST url` with `body` (an OCSP request); the response body, or why there is none.
    func fetch(_ url: String, post body: [UInt8]? = nil, contentType: String? = nil, accept: String,
               maxBytes: Int) async -> Result<[UInt8], RevocationProblem>
    {
        guard url.lowercased().hasPrefix("http://"), url.utf8.count > 7 else {
            return .failure(RevocationProblem(.unsupportedURL, "\(url): only http:// is fetched"))
        }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: accept)
        if let body {
            request.method = .POST
            request.headers.add(name: "Content-Type", value: contentType ?? "application/octet-stream")
            request.body = .bytes(body)
        }
        let client = self.client
        let timeout = self.timeout
        let nanos = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        let deadline = NIODeadline.now() + .nanoseconds(max(1, nanos))
        let prepared = request
        return await withTaskGroup(of: Result<[UInt8], RevocationProblem>?.self) { group in
            group.addTask {
                do {
                    let response = try await client.execute(prepared, deadline: deadline)
                    guard response.status == .ok else {
                        return .failure(RevocationProblem(.httpStatus, "\(url): HTTP \(response.status.code)"))
                    }
                    let length = response.headers.first(name: "content-length").flatMap { Int($0) }
                    if let length, length > maxBytes {
                        return .failure(RevocationProblem(.tooLarge, "\(url): \(length) bytes, limit \(maxBytes)"))
                    }
                    let buffer = try await response.body.collect(upTo: maxBytes)
                    return .success(Array(buffer.readableBytesView))
                } catch is NIOTooManyBytesError {
                    return .failure(RevocationProblem(.tooLarge, "\(url): more than \(maxBytes) bytes"))
                } catch {
                    return .failure(Self.problem(error, url: url, timeout: timeout))
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            // The first to finish decides: an answer, or the timer (which cancels the fetch).
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failure(RevocationProblem(.timeout, "\(url): no answer within \(Self.ms(timeout))"))
        }
    }

    private static func problem(_ error: any Error, url: String, timeout: Duration) -> RevocationProblem {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .connectTimeout, .readTimeout, .writeTimeout, .cancelled:
                return RevocationProblem(.timeout, "\(url): no answer within \(self.ms(timeout))")
            default:
                break
            }
        }
        if error is CancellationError {
            return RevocationProblem(.timeout, "\(url): no answer within \(self.ms(timeout))")
        }
        return RevocationProblem(.unreachable, "\(url): \(error)")
    }

    private static func ms(_ d: Duration) -> String {
        let ms = d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
        return "\(ms) ms"
    }
}
