import ArgumentParser
import CertAuth
import Foundation
import GatewayModel

/// `portcullis verify`: decodes a certificate header exactly as the data plane does, verifies it against CA files,
/// checks revocation, and explains the verdict.
///
/// Exit status: 0 accepted, 1 refused, 2 usage error (bad option, unreadable file, bad CA).
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Explain whether a certificate header would pass header-cert-auth, and why.",
        discussion: """
            Decodes the header value as the data plane does (same decoder, same limits), verifies the chain against \
            the CA certificates with the same OpenSSL settings, checks revocation (OCSP, then CRL) unless \
            --revocation SKIP, and prints the certificate's identity, the verdict and the reason.
            Exit status: 0 accepted, 1 refused, 2 usage error.
            """
    )

    @Option(name: .customLong("ca"), help: "A PEM file of trusted CA certificates (repeatable; may hold several).")
    var caFiles: [String] = []

    @Option(help: "url_encoded, base64_encoded, rfc9440 or xfcc.")
    var headerFormat: String?

    // `.unconditional`: a PEM value starts with dashes and must not be taken for an option.
    @Option(parsing: .unconditional, help: "The header's value, as the load balancer sends it.")
    var headerValue: String?

    @Option(help: "A file holding the header's value (surrounding whitespace is ignored).")
    var headerFile: String?

    @Option(parsing: .unconditional, help: "rfc9440 only: the Client-Cert-Chain header's value.")
    var chainValue: String?

    @Option(help: ArgumentHelp("Verify at this time (ISO 8601, e.g. 2026-01-31T12:00:00Z) instead of now.",
                               discussion: "Revocation answers are always judged at the current time."))
    var at: String?

    @Flag(help: "Let a configured intermediate CA terminate the chain (allow_partial_chain).")
    var allowPartialChain = false

    @Option(help: "SKIP, IGNORE_CA_ERROR or STRICT (revocation_check_mode).")
    var revocation: String = "IGNORE_CA_ERROR"

    @Option(help: "Timeout of each OCSP or CRL fetch, in milliseconds (http_timeout).")
    var httpTimeout: Int = 10_000

    @Flag(help: "Print JSON instead of text.")
    var json = false

    /// A usage problem: reported on standard error, exit status 2.
    struct UsageError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    func run() async throws {
        let input: Input
        do {
            input = try self.input()
        } catch {
            FileHandle.standardError.write(Data("portcullis verify: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let report = await Self.evaluate(input)
        if self.json {
            Output.json(report.json)
        } else {
            Output.write(report.text)
        }
        if !report.accepted { throw ExitCode(1) }
    }

    /// The validated options.
    struct Input {
        var trustStore: TrustStore
        var decoder: HeaderDecoder
        var header: String
        var chain: String?
        var time: Int64
        var allowPartialChain: Bool
        var mode: RevocationCheckMode
        var timeout: Duration
    }

    private func input() throws(UsageError) -> Input {
        guard !self.caFiles.isEmpty else { throw UsageError("--ca is required (a PEM file of trusted CAs)") }
        guard let formatName = self.headerFormat else {
            throw UsageError("--header-format is required: url_encoded, base64_encoded, rfc9440 or xfcc")
        }
        guard let format = CertificateHeaderFormat(rawValue: formatName) else {
            throw UsageError("--header-format '\(formatName)': expected url_encoded, base64_encoded, rfc9440 or xfcc")
        }
        guard let mode = RevocationCheckMode(rawValue: self.revocation.uppercased()) else {
            throw UsageError("--revocation '\(self.revocation)': expected SKIP, IGNORE_CA_ERROR or STRICT")
        }
        guard self.httpTimeout >= 1, self.httpTimeout <= 600_000 else {
            throw UsageError("--http-timeout must be between 1 and 600000 milliseconds")
        }
        if format != .rfc9440, self.chainValue != nil {
            throw UsageError("--chain-value applies to --header-format rfc9440 only")
        }
        let header: String
        switch (self.headerValue, self.headerFile) {
        case (let value?, nil):
            header = value
        case (nil, let file?):
            header = try Self.read(file, what: "header file").trimmingCharacters(in: .whitespacesAndNewlines)
        default:
            throw UsageError("give exactly one of --header-value and --header-file")
        }
        var anchors: [(id: String?, pem: String)] = []
        for file in self.caFiles {
            let blocks = Self.pemBlocks(try Self.read(file, what: "CA file"))
            guard !blocks.isEmpty else { throw UsageError("\(file): no PEM certificate found") }
            for (i, pem) in blocks.enumerated() {
                anchors.append((id: blocks.count == 1 ? file : "\(file)#\(i + 1)", pem: pem))
            }
        }
        let store: TrustStore
        do {
            store = try TrustStore(caCertificates: anchors)
        } catch {
            throw UsageError("CA certificates: \(error)")
        }
        var time = Int64(Date().timeIntervalSince1970)
        if let at = self.at {
            guard let date = ISO8601DateFormatter().date(from: at) else {
                throw UsageError("--at '\(at)': expected an ISO 8601 time such as 2026-01-31T12:00:00Z")
            }
            time = Int64(date.timeIntervalSince1970)
        }
        return Input(trustStore: store, decoder: HeaderDecoder(format: format), header: header, chain: self.chainValue,
                     time: time, allowPartialChain: self.allowPartialChain, mode: mode,
                     timeout: .milliseconds(self.httpTimeout))
    }

    private static func read(_ path: String, what: String) throws(UsageError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw UsageError("cannot read \(what) \(path): \(error.localizedDescription)")
        }
    }

    /// The `-----BEGIN CERTIFICATE-----` … `-----END CERTIFICATE-----` blocks of a PEM text.
    static func pemBlocks(_ text: String) -> [String] {
        let end = "-----END CERTIFICATE-----"
        var blocks: [String] = []
        var rest = Substring(text)
        while let begin = rest.range(of: "-----BEGIN CERTIFICATE-----"), let stop = rest.range(of: end) {
            guard begin.lowerBound < stop.lowerBound else {
                rest = rest[stop.upperBound...]
                continue
            }
            blocks.append(String(rest[begin.lowerBound..<stop.upperBound]) + "\n")
            rest = rest[stop.upperBound...]
        }
        return blocks
    }

    /// Decodes, verifies and checks revocation, as the data plane would.
    static func evaluate(_ input: Input) async -> VerifyReport {
        var report = VerifyReport(time: input.time, mode: input.mode)
        let limit = input.decoder.limits.maxHeaderBytes
        guard input.header.utf8.count <= limit, (input.chain?.utf8.count ?? 0) <= limit else {
            report.refuse("decode_failed:too_large", "header exceeds \(limit) bytes")
            return report
        }
        let presented: PresentedChain
        do {
            presented = try input.decoder.decode(input.header, chain: input.chain)
        } catch {
            report.refuse(error.metricLabel, error.detail)
            return report
        }
        report.presented = presented.count
        report.leaf = CertificateSummary(der: presented.leaf)
        let verifier = ChainVerifier(trustStore: input.trustStore,
                                     options: .init(allowPartialChain: input.allowPartialChain))
        switch verifier.verify(presented, at: input.time) {
        case .rejected(let failure):
            let depth = failure.depth.map { " (depth \($0), 0 = leaf)" } ?? ""
            report.refuse(failure.metricLabel, failure.message + depth)
        case .trusted(let verified):
            report.anchor = verified.issuer.subject
            report.pathLength = verified.chainLength
            guard input.mode != .skip else {
                report.revocation = .notChecked
                return report
            }
            let configuration = RevocationChecker.Configuration(timeout: input.timeout)
            guard let checker = RevocationChecker(trustStore: input.trustStore,
                                                  allowPartialChain: input.allowPartialChain,
                                                  configuration: configuration)
            else {
                report.refuse("internal", "OpenSSL cannot allocate a store")
                return report
            }
            let status = await checker.check(verified.revocationTargets, now: Int64(Date().timeIntervalSince1970))
            report.revocation = status
            if let outcome = input.mode.refusal(for: status) { report.refuse(outcome, status.summary) }
        }
        return report
    }
}
