/// The certificates a header carried, as DER, before any verification.
///
/// The leaf is the certificate being authenticated; the intermediates are untrusted material that may help to
/// build a path to a configured CA. Their order is kept as presented (leaf first).
package struct PresentedChain: Sendable, Hashable {
    /// DER of the client (end-entity) certificate.
    package var leaf: [UInt8]
    /// DER of the further certificates, in presented order.
    package var intermediates: [[UInt8]]

    package init(leaf: [UInt8], intermediates: [[UInt8]] = []) {
        self.leaf = leaf
        self.intermediates = intermediates
    }

    /// Number of certificates, the leaf included.
    package var count: Int { 1 + self.intermediates.count }

    /// Splits a non-empty list of DER certificates, leaf first.
    init?(certificates: [[UInt8]]) {
        guard let first = certificates.first else { return nil }
        self.init(leaf: first, intermediates: Array(certificates.dropFirst()))
    }
}
