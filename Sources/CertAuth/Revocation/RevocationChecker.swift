import Synchronization

/// Checks whether the certificates of a verified chain are revoked: OCSP first, then the CRL.
///
/// For each certificate of the verified path except the anchor (``VerifiedCertificate/revocationTargets``):
/// 1. the cached answer for (issuer, serial), if still fresh;
/// 2. else one fetch per certificate at a time: concurrent callers for the same certificate wait on the fetch in
///    flight instead of starting their own;
/// 3. the fetch asks the first `http://` OCSP responder of the authorityInfoAccess extension (``OCSPExchange``);
///    when that gives no definite answer (no responder, unreachable, timeout, bad or unsigned response, responder
///    does not know the certificate) it reads the CRL of the first `http://` distribution point that gives one
///    (``CertificateRevocationList``; CRLs are cached by URL and fetched once at a time too).
///
/// Definite answers (good, revoked) are cached for ``Configuration/cacheTTL``, and never past the response's
/// nextUpdate; `unknown` ones for at most ``Configuration/unknownTTL``, so an unreachable responder is retried soon
/// without being hammered. The chain's status combines the answers leaf first (``RevocationStatus/combine(_:)``).
///
/// Thread-safe and shared by all event loops of one plugin instance. Fetches run in tasks on the HTTP client's
/// event loops and OpenSSL work runs in those tasks: a caller on an event loop only ever waits on a future.
package final class RevocationChecker: Sendable {
    /// Limits and lifetimes.
    package struct Configuration: Sendable {
        /// Bound of one fetch: connect, request, response head and body (`http_timeout`).
        package var timeout: Duration
        /// Lifetime of a definite answer, seconds (`cert_cache_ttl`, rounded up to seconds; 0 = no caching).
        package var cacheTTL: Int64
        /// Lifetime of an `unknown` answer or a failed CRL fetch, seconds (capped by ``cacheTTL``).
        package var unknownTTL: Int64
        /// Maximum number of cached certificate answers.
        package var capacity: Int
        /// Maximum number of cached CRLs (each up to ``maxCRLBytes`` parsed).
        package var crlCapacity: Int
        package var maxOCSPResponseBytes: Int
        package var maxCRLBytes: Int
        /// An HTTP proxy for the fetches (`http_proxy_host`/`http_proxy_port`).
        package var proxy: (host: String, port: Int)?

        package init(timeout: Duration = .seconds(30), cacheTTL: Int64 = 60, unknownTTL: Int64 = 5,
                     capacity: Int = 10_000, crlCapacity: Int = 16, maxOCSPResponseBytes: Int = 64 * 1024,
                     maxCRLBytes: Int = 1024 * 1024, proxy: (host: String, port: Int)? = nil)
        {
            self.timeout = timeout
            self.cacheTTL = cacheTTL
            self.unknownTTL = unknownTTL
            self.capacity = capacity
            self.crlCapacity = crlCapacity
            self.maxOCSPResponseBytes = maxOCSPResponseBytes
            self.maxCRLBytes = maxCRLBytes
            self.proxy = proxy
        }
    }

    package let configuration: Configuration
    private let trust: RevocationTrust
    private let fetcher: RevocationFetcher
    private let results: ExpiringCache<CertificateRevocation>
    private let crls: ExpiringCache<Result<CertificateRevocationList, RevocationProblem>>
    private let pending = Mutex<[String: Task<CertificateRevocation, Never>]>([:])
    private let pendingCRLs = Mutex<[String: Task<Result<CertificateRevocationList, RevocationProblem>, Never>]>([:])
    private let fetches = Atomic<Int>(0)

    /// - Parameters:
    ///   - trustStore: the CA certificates a delegated OCSP responder's certificate must chain to.
    ///   - allowPartialChain: a configured intermediate may anchor the responder's chain.
    /// - Returns: nil only if OpenSSL cannot allocate a store.
    package init?(trustStore: TrustStore, allowPartialChain: Bool, configuration: Configuration = Configuration()) {
        guard let trust = RevocationTrust(trustStore, allowPartialChain: allowPartialChain) else { return nil }
        self.trust = trust
        self.configuration = configuration
        self.fetcher = RevocationFetcher(
            timeout: configuration.timeout,
            proxy: configuration.proxy.map { RevocationFetcher.Proxy(host: $0.host, port: $0.port) })
        self.results = ExpiringCache(capacity: configuration.capacity)
        self.crls = ExpiringCache(capacity: configuration.crlCapacity)
    }

    /// HTTP requests made since this checker was created (OCSP and CRL).
    package var fetchCount: Int { self.fetches.load(ordering: .relaxed) }

    /// The chain's status from the cache alone: nil when some certificate has no fresh answer (then ``check``).
    package func cachedStatus(of targets: [RevocationTarget], now: Int64) -> RevocationStatus? {
        var answers: [CertificateRevocation] = []
        answers.reserveCapacity(targets.count)
        for target in targets {
            if target.ocspURLs.isEmpty, target.crlURLs.isEmpty {
                // Nothing to fetch: decided here, so such chains never make a request wait.
                answers.append(.unknown(Self.noResponder))
                continue
            }
            guard let answer = self.results.lookup(target.key, now: now) else { return nil }
            answers.append(answer)
        }
        return RevocationStatus.combine(answers)
    }

    private static let noResponder = RevocationProblem(.noResponder, "no OCSP responder and no CRL distribution point")

    /// The chain's status: cached answers, else fetched (all certificates of the chain in parallel).
    package func check(_ targets: [RevocationTarget], now: Int64) async -> RevocationStatus {
        guard !targets.isEmpty else { return .notChecked }
        if let cached = self.cachedStatus(of: targets, now: now) { return cached }
        let answers = await withTaskGroup(of: (Int, CertificateRevocation).self) { group in
            for (i, target) in targets.enumerated() {
                group.addTask { (i, await self.status(of: target, now: now)) }
            }
            var answers = [CertificateRevocation?](repeating: nil, count: targets.count)
            for await (i, answer) in group { answers[i] = answer }
            return answers.map { $0 ?? .unknown(RevocationProblem(.internal, "no answer")) }
        }
        return RevocationStatus.combine(answers)
    }

    /// One certificate's answer: cached, awaited from the fetch in flight, or fetched.
    package func status(of target: RevocationTarget, now: Int64) async -> CertificateRevocation {
        if let cached = self.results.lookup(target.key, now: now) { return cached }
        let task = self.pending.withLock { pending in
            if let running = pending[target.key] { return running }
            let task = Task {
                let (answer, expiresAt) = await self.fetchStatus(of: target, now: now)
                // Cached before the in-flight entry goes, so no caller in between starts a second fetch.
                self.results.insert(answer, for: target.key, expiresAt: expiresAt, now: now)
                self.pending.withLock { _ = $0.removeValue(forKey: target.key) }
                return answer
            }
            pending[target.key] = task
            return task
        }
        return await task.value
    }

    /// Drops every cached answer and CRL.
    package func removeAll() {
        self.results.removeAll()
        self.crls.removeAll()
    }

    private func fetchStatus(of target: RevocationTarget, now: Int64) async -> (CertificateRevocation, Int64) {
        var problems: [RevocationProblem] = []
        let ocspURLs = target.ocspURLs.filter(Self.isHTTP)
        if let url = ocspURLs.first {
            let (answer, nextUpdate) = await self.ocsp(target, url: url)
            if case .unknown(let problem) = answer {
                problems.append(problem)
            } else {
                return (answer, self.expiry(now: now, nextUpdate: nextUpdate))
            }
        } else if let url = target.ocspURLs.first {
            problems.append(RevocationProblem(.unsupportedURL, "OCSP responder \(url): only http:// is fetched"))
        }
        let crlURLs = target.crlURLs.filter(Self.isHTTP)
        for url in crlURLs {
            switch await self.crl(url, now: now) {
            case .failure(let problem):
                problems.append(problem)
            case .success(let crl):
                let answer = crl.status(of: target, now: now)
                if case .unknown(let problem) = answer {
                    problems.append(RevocationProblem(problem.code, "\(url): \(problem.message)"))
                } else {
                    return (answer, self.expiry(now: now, nextUpdate: crl.nextUpdate))
                }
            }
        }
        if crlURLs.isEmpty, let url = target.crlURLs.first {
            problems.append(RevocationProblem(.unsupportedURL, "CRL \(url): only http:// is fetched"))
        }
        guard let first = problems.first else {
            return (.unknown(Self.noResponder), now + min(self.configuration.cacheTTL, self.configuration.unknownTTL))
        }
        let message = problems.map(\.message).joined(separator: "; ")
        return (.unknown(RevocationProblem(first.code, message)),
                now + min(self.configuration.cacheTTL, self.configuration.unknownTTL))
    }

    private func ocsp(_ target: RevocationTarget, url: String) async -> (CertificateRevocation, nextUpdate: Int64?) {
        let request: [UInt8]
        switch OCSPExchange.request(for: target) {
        case .failure(let problem): return (.unknown(problem), nil)
        case .success(let der): request = der
        }
        self.fetches.add(1, ordering: .relaxed)
        let body = await self.fetcher.fetch(
            url, post: request, contentType: "application/ocsp-request", accept: "application/ocsp-response",
            maxBytes: self.configuration.maxOCSPResponseBytes)
        switch body {
        case .failure(let problem):
            return (.unknown(problem), nil)
        case .success(let bytes):
            let (answer, nextUpdate) = OCSPExchange.evaluate(bytes, for: target, trust: self.trust)
            if case .unknown(let problem) = answer {
                return (.unknown(RevocationProblem(problem.code, "\(url): \(problem.message)")), nil)
            }
            return (answer, nextUpdate)
        }
    }

    private func crl(_ url: String, now: Int64) async -> Result<CertificateRevocationList, RevocationProblem> {
        if let cached = self.crls.lookup(url, now: now) { return cached }
        let task = self.pendingCRLs.withLock { pending in
            if let running = pending[url] { return running }
            let task = Task { () -> Result<CertificateRevocationList, RevocationProblem> in
                self.fetches.add(1, ordering: .relaxed)
                let fetched = await self.fetcher.fetch(
                    url, accept: "application/pkix-crl", maxBytes: self.configuration.maxCRLBytes)
                let result: Result<CertificateRevocationList, RevocationProblem>
                let expiresAt: Int64
                switch fetched {
                case .failure(let problem):
                    result = .failure(problem)
                    expiresAt = now + min(self.configuration.cacheTTL, self.configuration.unknownTTL)
                case .success(let bytes):
                    do throws(RevocationProblem) {
                        let crl = try CertificateRevocationList(bytes)
                        result = .success(crl)
                        expiresAt = self.expiry(now: now, nextUpdate: crl.nextUpdate)
                    } catch {
                        result = .failure(RevocationProblem(error.code, "\(url): \(error.message)"))
                        expiresAt = now + min(self.configuration.cacheTTL, self.configuration.unknownTTL)
                    }
                }
                self.crls.insert(result, for: url, expiresAt: expiresAt, now: now)
                self.pendingCRLs.withLock { _ = $0.removeValue(forKey: url) }
                return result
            }
            pending[url] = task
            return task
        }
        return await task.value
    }

    private func expiry(now: Int64, nextUpdate: Int64?) -> Int64 {
        let byTTL = now + self.configuration.cacheTTL
        guard let nextUpdate else { return byTTL }
        return min(byTTL, nextUpdate)
    }

    private static func isHTTP(_ url: String) -> Bool { url.lowercased().hasPrefix("http://") }
}
