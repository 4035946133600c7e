import COpenSSL
import GatewayModel

/// Verifies presented chains against a ``TrustStore`` with OpenSSL, plus checks OpenSSL leaves out.
///
/// OpenSSL does path building (untrusted intermediates from the header), signatures, validity at the given time,
/// basic constraints, path length, name constraints, critical extensions, the TLS-client purpose (key usage,
/// extended key usage `clientAuth` on the leaf and, when present, on the CAs) and, with
/// `X509_V_FLAG_X509_STRICT`, the RFC 5280 profile rules it knows. On top of that a chain is refused when:
/// - the leaf is a CA (basicConstraints `CA:TRUE`, or keyUsage `keyCertSign`/`cRLSign`);
/// - the leaf has an extendedKeyUsage extension that is empty or lacks `clientAuth` (`anyExtendedKeyUsage` alone
///   is not enough);
/// - the leaf's serial is not a positive integer of at most 20 octets;
/// - a CN or SAN value is unsafe (see ``CertificateIdentity``);
/// - a key or signature is below ``Options/securityLevel`` (OpenSSL's auth level: 2 = 112 bits, so no RSA < 2048,
///   no SHA-1/MD5 signatures).
///
/// Synchronous and thread-safe; a call costs a few hundred microseconds (parse + verify), so callers cache verdicts
/// (``VerdictCache``). Intermediates that completed a verified path stay parsed for the next calls
/// (``IntermediateCache``): a new client of a known issuing CA costs one certificate parse, not two.
package struct ChainVerifier: Sendable {
    /// Verification settings.
    package struct Options: Sendable, Hashable {
        /// Let a configured intermediate terminate the path (`allow_partial_chain`, `X509_V_FLAG_PARTIAL_CHAIN`).
        package var allowPartialChain: Bool
        /// Maximum number of intermediate CAs between the leaf and the anchor (`X509_VERIFY_PARAM_set_depth`).
        package var maxIntermediates: Int
        /// OpenSSL authentication security level for keys and signatures (0 disables the check).
        package var securityLevel: Int
        /// Apply `X509_V_FLAG_X509_STRICT`.
        package var x509Strict: Bool

        package init(allowPartialChain: Bool = false, maxIntermediates: Int = 4, securityLevel: Int = 2,
                     x509Strict: Bool = true) {
            self.allowPartialChain = allowPartialChain
            self.maxIntermediates = maxIntermediates
            self.securityLevel = securityLevel
            self.x509Strict = x509Strict
        }
    }

    package let trustStore: TrustStore
    package let options: Options
    /// Digest of the trust store identity and the options: verdicts are only comparable under equal identities.
    package let identity: [UInt8]
    /// Intermediates of verified paths, parsed once for the verifications after (``IntermediateCache``).
    let intermediateCache: IntermediateCache

    package init(trustStore: TrustStore, options: Options = Options()) {
        self.trustStore = trustStore
        self.options = options
        self.intermediateCache = IntermediateCache()
        let o = options
        let description = "\(trustStore.identity)|partial=\(o.allowPartialChain)|depth=\(o.maxIntermediates)"
            + "|level=\(o.securityLevel)|strict=\(o.x509Strict)"
        self.identity = Digest.sha256(Array(description.utf8))
    }

    /// Verifies `chain` at `time` (seconds since the epoch; injectable for tests and for consistent caching).
    package func verify(_ chain: PresentedChain, at time: Int64) -> Verdict {
        ERR_clear_error()
        defer { ERR_clear_error() }
        guard let leaf = X509Certificate(der: chain.leaf) else {
            return .rejected(VerificationFailure(.malformed, "leaf is not a parsable DER certificate", depth: 0))
        }
        var intermediates: [X509Certificate] = []
        intermediates.reserveCapacity(chain.intermediates.count)
        var parsed: [Int] = []  // the intermediates not taken from the cache
        for (i, der) in chain.intermediates.enumerated() {
            if let cached = self.intermediateCache.lookup(der) {
                intermediates.append(cached)
                continue
            }
            parsed.append(i)
            guard let cert = X509Certificate(der: der) else {
                return .rejected(VerificationFailure(.malformed, "certificate \(i + 2) is not parsable DER",
                                                     depth: i + 1))
            }
            intermediates.append(cert)
        }
        return withExtendedLifetime((leaf, intermediates)) {
            self.verify(leaf: leaf, intermediates: intermediates, parsed: parsed, chain: chain, at: time)
        }
    }

    private func verify(leaf: X509Certificate, intermediates: [X509Certificate], parsed: [Int],
                        chain: PresentedChain, at time: Int64) -> Verdict
    {
        guard let untrusted = pc_sk_X509_new_null() else { return .rejected(Self.internalFailure("sk_X509_new")) }
        defer { pc_sk_X509_free(untrusted) }  // the stack only: the certificates belong to `intermediates`
        for cert in intermediates where pc_sk_X509_push(untrusted, cert.pointer) <= 0 {
            return .rejected(Self.internalFailure("sk_X509_push"))
        }
        guard let ctx = X509_STORE_CTX_new() else { return .rejected(Self.internalFailure("X509_STORE_CTX_new")) }
        defer { X509_STORE_CTX_free(ctx) }
        guard X509_STORE_CTX_init(ctx, self.trustStore.store, leaf.pointer, untrusted) == 1 else {
            return .rejected(Self.internalFailure("X509_STORE_CTX_init"))
        }
        let param = X509_STORE_CTX_get0_param(ctx)
        X509_VERIFY_PARAM_set_time(param, time_t(time))
        var flags = 0
        if self.options.x509Strict { flags |= Int(X509_V_FLAG_X509_STRICT) }
        if self.options.allowPartialChain { flags |= Int(X509_V_FLAG_PARTIAL_CHAIN) }
        X509_VERIFY_PARAM_set_flags(param, UInt(flags))
        X509_VERIFY_PARAM_set_depth(param, Int32(clamping: self.options.maxIntermediates))
        X509_VERIFY_PARAM_set_auth_level(param, Int32(clamping: self.options.securityLevel))
        guard X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) == 1 else {
            return .rejected(Self.internalFailure("X509_STORE_CTX_set_purpose"))
        }

        guard X509_verify_cert(ctx) == 1 else {
            let code = X509_STORE_CTX_get_error(ctx)
            let depth = Int(X509_STORE_CTX_get_error_depth(ctx))
            let message = X509_verify_cert_error_string(Int(code)).map { String(cString: $0) } ?? "error \(code)"
            var reconsiderAt: Int64?
            if code == X509_V_ERR_CERT_NOT_YET_VALID, let current = X509_STORE_CTX_get_current_cert(ctx) {
                reconsiderAt = OpenSSLValues.unixTime(X509_get0_notBefore(current))
            }
            return .rejected(VerificationFailure(.fromOpenSSL(code), message, depth: depth, openSSLError: code,
                                                 reconsiderAt: reconsiderAt))
        }

        // The verified path: leaf first, the trust anchor last.
        guard let path = X509_STORE_CTX_get0_chain(ctx), pc_sk_X509_num(path) >= 1,
              let top = pc_sk_X509_value(path, pc_sk_X509_num(path) - 1)
        else {
            return .rejected(Self.internalFailure("X509_STORE_CTX_get0_chain"))
        }
        let length = Int(pc_sk_X509_num(path))
        guard let anchor = self.trustStore.anchor(matching: top) else {
            return .rejected(VerificationFailure(.unknownCA, "verified path does not end at a configured CA"))
        }
        var chainNotAfter = Int64.max
        for i in 0..<Int32(length) {
            if let c = pc_sk_X509_value(path, i), let t = OpenSSLValues.unixTime(X509_get0_notAfter(c)) {
                chainNotAfter = min(chainNotAfter, t)
            }
        }

        // The freshly parsed intermediates the path went through serve the next verifications parsed.
        for i in parsed {
            for k in 1..<Int32(length) where pc_sk_X509_value(path, k) == intermediates[i].pointer {
                self.intermediateCache.insert(intermediates[i], der: chain.intermediates[i])
                break
            }
        }

        if let failure = Self.leafPolicyFailure(leaf.pointer) { return .rejected(failure) }
        switch CertificateIdentity.read(leaf.pointer, der: chain.leaf) {
        case .failure(let failure):
            return .rejected(failure)
        case .success(let identity):
            return .trusted(VerifiedCertificate(
                identity: identity, issuer: anchor, chainLength: length, chainNotAfter: chainNotAfter,
                verifiedAt: time, revocation: .notChecked, revocationTargets: RevocationTarget.targets(path: path),
                clientCertField: ":" + Base64.encode(chain.leaf) + ":"))
        }
    }

    /// Our checks on the leaf, beyond what OpenSSL enforces for the TLS-client purpose.
    static func leafPolicyFailure(_ leaf: OpaquePointer) -> VerificationFailure? {
        let flags = X509_get_extension_flags(leaf)
        if flags & UInt32(EXFLAG_CA) != 0 {
            return VerificationFailure(.leafIsCA, "leaf has basicConstraints CA:TRUE", depth: 0)
        }
        if flags & UInt32(EXFLAG_KUSAGE) != 0,
           X509_get_key_usage(leaf) & UInt32(KU_KEY_CERT_SIGN | KU_CRL_SIGN) != 0 {
            return VerificationFailure(.leafIsCA, "leaf keyUsage allows certificate or CRL signing", depth: 0)
        }
        if flags & UInt32(EXFLAG_XKUSAGE) != 0 {
            var critical: Int32 = 0
            let count: Int32
            if let raw = X509_get_ext_d2i(leaf, NID_ext_key_usage, &critical, nil) {
                let eku = OpaquePointer(raw)
                count = pc_sk_ASN1_OBJECT_num(eku)
                pc_EXTENDED_KEY_USAGE_free(eku)
            } else {
                count = 0
            }
            guard count > 0 else {
                return VerificationFailure(.purpose, "leaf extendedKeyUsage is empty", depth: 0)
            }
            guard X509_get_extended_key_usage(leaf) & UInt32(XKU_SSL_CLIENT) != 0 else {
                return VerificationFailure(.purpose, "leaf extendedKeyUsage lacks clientAuth", depth: 0)
            }
        }
        if let serial = X509_get0_serialNumber(leaf) {
            let bytes = OpenSSLValues.bytes(serial)
            let negative = serial.pointee.type == V_ASN1_NEG_INTEGER
            let encodedLength = bytes.count + ((bytes.first ?? 0) & 0x80 != 0 ? 1 : 0)
            if negative || bytes.allSatisfy({ $0 == 0 }) || encodedLength > 20 {
                return VerificationFailure(.badSerial, "serial number is not a positive integer of ≤ 20 octets",
                                           depth: 0)
            }
        }
        return nil
    }

    private static func internalFailure(_ call: String) -> VerificationFailure {
        VerificationFailure(.other, "\(call) failed: \(OpenSSLValues.drainErrors())")
    }
}
