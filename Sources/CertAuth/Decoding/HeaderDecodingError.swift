/// Why a certificate header could not be turned into a ``PresentedChain``.
///
/// A malformed header is an input error (thrown), not a verification verdict. ``reason`` is short and stable,
/// suitable as a metric label (``metricLabel``); ``detail`` is for logs.
package struct HeaderDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, short reason (`malformed`, `too_large`, …).
    package struct Reason: Sendable, Hashable, CustomStringConvertible {
        package let label: String
        private init(_ label: String) { self.label = label }
        package var description: String { self.label }

        /// The header is empty or only whitespace.
        package static let empty = Reason("empty")
        /// The header (or one certificate in it) exceeds the configured size limit.
        package static let tooLarge = Reason("too_large")
        /// More certificates than the configured limit.
        package static let tooManyCertificates = Reason("too_many_certificates")
        /// The syntax of the format is violated (bad escape, bad base64, bad PEM framing, bad structured field).
        package static let malformed = Reason("malformed")
        /// Well-formed, but the content is not an X.509 certificate (other PEM label, not a DER SEQUENCE).
        package static let notACertificate = Reason("not_a_certificate")
        /// The header parsed but carries no certificate (e.g. an XFCC element without `Cert=`/`Chain=`).
        package static let noCertificate = Reason("no_certificate")
    }

    package var reason: Reason
    /// What exactly was wrong, for logs (never echoes header content).
    package var detail: String

    package init(_ reason: Reason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }

    /// `decode_failed:<reason>`.
    package var metricLabel: String { "decode_failed:\(self.reason.label)" }

    package var description: String { "\(self.metricLabel): \(self.detail)" }

    /// Equality on the reason only, so tests can build the expected error without the detail text.
    package static func == (lhs: HeaderDecodingError, rhs: HeaderDecodingError) -> Bool { lhs.reason == rhs.reason }
    package func hash(into hasher: inout Hasher) { hasher.combine(self.reason) }
}
