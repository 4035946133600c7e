import CertAuth

/// The inputs Portcullis takes from outside, one fuzz target each.
///
/// The libFuzzer driver (`portcullis-fuzz <target>`, built by `make fuzz`) and the unit test over the seed corpus
/// (`FuzzTargetTests`) call the same ``run(_:)``: a crash, a trap or a hang found by either is a bug in the library
/// code the target reaches, never something to catch here. A target never throws: every input ends as an
/// ``FuzzOutcome``.
package enum FuzzTarget: String, CaseIterable, Sendable {
    /// `url_encoded` certificate header (AWS ALB, nginx), then the chain verifier on what decodes.
    case headerURLEncoded = "header-url-encoded"
    /// `base64_encoded` certificate header, then the chain verifier.
    case headerBase64 = "header-base64"
    /// RFC 9440 `Client-Cert`, a line feed, then `Client-Cert-Chain`; then the chain verifier.
    case headerRFC9440 = "header-rfc9440"
    /// Envoy's `x-forwarded-client-cert`, then the chain verifier.
    case headerXFCC = "header-xfcc"
    /// Concatenated DER certificates straight to OpenSSL: the chain verifier and the certificate summary.
    case chainVerifier = "chain-verifier"
    /// Bytes from the cluster socket: frames, messages, and the snapshot and delta payloads they carry.
    case clusterFrame = "cluster-frame"
    /// A snapshot or delta payload as a data plane inflates it: decode, apply, validate.
    case snapshotPayload = "snapshot-payload"
    /// A declarative configuration (YAML or JSON text), loaded and validated as `POST /config` does.
    case declarativeConfig = "declarative-config"
    /// The JSON parser and writer: parse, write back, parse again, same value.
    case json
    /// An admin API request body: `Content-Type`, a line feed, the body; then every entity's validation.
    case adminBody = "admin-body"

    /// Runs the target on one input.
    package func run(_ input: [UInt8]) -> FuzzOutcome {
        switch self {
        case .headerURLEncoded: CertificateTargets.header(input, format: .urlEncoded)
        case .headerBase64: CertificateTargets.header(input, format: .base64Encoded)
        case .headerRFC9440: CertificateTargets.header(input, format: .rfc9440)
        case .headerXFCC: CertificateTargets.header(input, format: .xfcc)
        case .chainVerifier: CertificateTargets.der(input)
        case .clusterFrame: ClusterTargets.frames(input)
        case .snapshotPayload: ClusterTargets.payload(input)
        case .declarativeConfig: ConfigTargets.declarative(input)
        case .json: ConfigTargets.json(input)
        case .adminBody: AdminBodyTarget.run(input)
        }
    }

    /// Runs the target on an input in memory owned by the caller (libFuzzer's buffer).
    package func run(_ data: UnsafeRawBufferPointer) -> FuzzOutcome {
        self.run(Array(data))
    }
}

/// How far an input got: accepted by every stage the target runs, or refused (with the first refusal).
package enum FuzzOutcome: Sendable, Equatable, CustomStringConvertible {
    case accepted
    case refused(String)

    package var description: String {
        switch self {
        case .accepted: "accepted"
        case .refused(let reason): "refused: \(reason)"
        }
    }

    package var isAccepted: Bool { self == .accepted }
}

/// A property of the code under test that an input broke (a round trip that changed a value): a bug, so the
/// target stops the process where libFuzzer records the input.
func invariant(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("fuzz invariant broken: \(message())") }
}
