import CertAuth
import Foundation
import GatewayModel

/// What `portcullis verify` found, printable as aligned text or as JSON.
struct VerifyReport {
    var time: Int64
    var mode: RevocationCheckMode
    /// Certificates in the header (nil when it did not decode).
    var presented: Int?
    /// The leaf as read without verification (nil when the header did not decode or the leaf does not parse).
    var leaf: CertificateSummary?
    /// The configured CA the verified path ends at, and the path's length.
    var anchor: String?
    var pathLength: Int?
    var revocation: RevocationStatus?
    /// `ok`, or the refusal's outcome label and explanation.
    var outcome = "ok"
    var reason: String?

    init(time: Int64, mode: RevocationCheckMode) {
        self.time = time
        self.mode = mode
    }

    var accepted: Bool { self.reason == nil }

    mutating func refuse(_ outcome: String, _ reason: String) {
        self.outcome = outcome
        self.reason = reason
    }

    static func iso(_ t: Int64?) -> String {
        guard let t else { return "?" }
        return ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(t)))
    }

    private var revocationText: String {
        guard let revocation = self.revocation else {
            return self.mode == .skip ? "not checked (SKIP)" : "not checked (the chain did not verify)"
        }
        if case .notChecked = revocation { return "not checked (\(self.mode.rawValue))" }
        return revocation.summary
    }

    var text: String {
        var lines: [(String, String)] = []
        if let leaf = self.leaf {
            lines.append(("subject", leaf.identity?.subjectDN ?? leaf.subject))
            lines.append(("subject (RFC 2253)", leaf.subject))
            lines.append(("common name", leaf.identity?.commonName ?? "(none)"))
            let sans = leaf.identity?.subjectAltNames.map(\.description) ?? []
            lines.append(("SANs", sans.isEmpty ? "(none)" : sans.joined(separator: ", ")))
            if let problem = leaf.identityProblem { lines.append(("names", "unusable: \(problem)")) }
            lines.append(("issuer", leaf.issuer))
            lines.append(("serial", leaf.serialNumber))
            lines.append(("not before", Self.iso(leaf.notBefore)))
            lines.append(("not after", Self.iso(leaf.notAfter)))
            lines.append(("sha256", leaf.sha256))
            if !leaf.ocspURLs.isEmpty { lines.append(("OCSP", leaf.ocspURLs.joined(separator: ", "))) }
            if !leaf.crlURLs.isEmpty { lines.append(("CRL", leaf.crlURLs.joined(separator: ", "))) }
        } else if self.presented != nil {
            lines.append(("certificate", "the leaf does not parse"))
        }
        if let presented = self.presented {
            var chain = presented == 1 ? "1 certificate in the header" : "\(presented) certificates in the header"
            if let length = self.pathLength, let anchor = self.anchor {
                chain += "; verified path of \(length) ending at \(anchor)"
            }
            lines.append(("chain", chain))
        }
        lines.append(("verified at", Self.iso(self.time)))
        lines.append(("revocation", self.revocationText))
        lines.append(("verdict", self.accepted ? "ACCEPTED" : "REFUSED (401 TLS certificate failed verification)"))
        if let reason = self.reason {
            lines.append(("outcome", self.outcome))
            lines.append(("reason", reason))
        }
        let width = (lines.map(\.0.count).max() ?? 0) + 2
        return lines.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + $0.1 }
            .joined(separator: "\n") + "\n"
    }

    var json: JSON {
        var object: JSONObject = [
            "verdict": .string(self.accepted ? "accepted" : "refused"),
            "outcome": .string(self.outcome),
            "reason": self.reason.map(JSON.string) ?? .null,
            "verified_at": .string(Self.iso(self.time)),
            "revocation_check_mode": .string(self.mode.rawValue),
            "revocation": .string(self.revocation?.label ?? "not_checked"),
            "revocation_detail": .string(self.revocationText),
            "presented_certificates": self.presented.map { .int(Int64($0)) } ?? .null,
            "verified_path_length": self.pathLength.map { .int(Int64($0)) } ?? .null,
            "anchor": self.anchor.map(JSON.string) ?? .null,
        ]
        if let leaf = self.leaf {
            object["certificate"] = .object([
                "subject_dn": .string(leaf.identity?.subjectDN ?? ""),
                "subject": .string(leaf.subject),
                "common_name": leaf.identity?.commonName.map(JSON.string) ?? .null,
                "sans": .array((leaf.identity?.subjectAltNames ?? []).map { .string($0.description) }),
                "issuer": .string(leaf.issuer),
                "serial": .string(leaf.serialNumber),
                "not_before": .string(Self.iso(leaf.notBefore)),
                "not_after": .string(Self.iso(leaf.notAfter)),
                "sha256": .string(leaf.sha256),
                "ocsp": .array(leaf.ocspURLs.map(JSON.string)),
                "crl": .array(leaf.crlURLs.map(JSON.string)),
                "name_problem": leaf.identityProblem.map(JSON.string) ?? .null,
            ])
        } else {
            object["certificate"] = .null
        }
        return .object(object)
    }
}
