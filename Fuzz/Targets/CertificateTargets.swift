import CertAuth

/// The certificate-header decoders and the OpenSSL side of header-cert-auth.
enum CertificateTargets {
    /// The verifier every target feeds: the fuzz root as the only anchor, the plugin's default options.
    static let verifier: ChainVerifier? = {
        guard let store = try? TrustStore(caCertificates: [(id: "fuzz-root", pem: FuzzPKI.rootPEM)]) else { return nil }
        return ChainVerifier(trustStore: store)
    }()

    /// Decodes a header value in `format` and verifies what decodes. For RFC 9440 the input is `Client-Cert`, then
    /// optionally a line feed and `Client-Cert-Chain`.
    static func header(_ input: [UInt8], format: CertificateHeaderFormat) -> FuzzOutcome {
        var value = input
        var chain: [UInt8]?
        if format == .rfc9440, let lf = input.firstIndex(of: 0x0A) {
            value = Array(input[..<lf])
            chain = Array(input[(lf + 1)...])
        }
        let presented: PresentedChain
        do {
            presented = try HeaderDecoder(format: format).decode(bytes: value, chain: chain)
        } catch {
            return .refused(error.description)
        }
        invariant(!presented.leaf.isEmpty && presented.count <= HeaderDecoder.Limits().maxCertificates,
                  "decoded chain outside the limits")
        return self.verify(presented)
    }

    /// Splits the input into concatenated DER certificates (leaf first) the way the base64 decoder does, or takes
    /// it whole as the leaf; then summarises every certificate and verifies the chain.
    static func der(_ input: [UInt8]) -> FuzzOutcome {
        let certificates = DERFraming.split(input, max: HeaderDecoder.Limits().maxCertificates) ?? [input]
        for der in certificates { _ = CertificateSummary(der: der) }
        return self.verify(PresentedChain(leaf: certificates[0], intermediates: Array(certificates.dropFirst())))
    }

    private static func verify(_ chain: PresentedChain) -> FuzzOutcome {
        guard let verifier = self.verifier else { return .refused("the fuzz root is not a usable trust anchor") }
        switch verifier.verify(chain, at: FuzzPKI.verificationTime) {
        case .trusted(let verified):
            invariant(verified.chainLength >= 1, "trusted chain without a path")
            return .accepted
        case .rejected(let failure):
            return .refused(failure.description)
        }
    }
}
