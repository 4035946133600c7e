/// How a load balancer encodes the client certificate (chain) in a request header.
///
/// `url_encoded` and `base64_encoded` are Kong's `certificate_header_format` values; `rfc9440` and `xfcc` are
/// Portcullis extensions for Cloudflare/CloudFront/GCP (RFC 9440 `Client-Cert`) and Envoy
/// (`x-forwarded-client-cert`).
package enum CertificateHeaderFormat: String, Sendable, Hashable, CaseIterable {
    /// Percent-encoded PEM, one block or a chain (leaf first): AWS ALB `X-Amzn-Mtls-Clientcert`, nginx
    /// `$ssl_client_escaped_cert`.
    case urlEncoded = "url_encoded"
    /// Base64 of the leaf's DER (optionally followed by the DER of intermediates), or base64 of a PEM text.
    case base64Encoded = "base64_encoded"
    /// RFC 9440: `Client-Cert` is an sf-binary `:base64(DER):`; `Client-Cert-Chain` a list of them.
    case rfc9440
    /// Envoy's `x-forwarded-client-cert`: `Cert=`/`Chain=` of the last element, URL-encoded PEM.
    case xfcc

    /// A one-byte tag that separates formats inside verdict-cache keys.
    var cacheTag: UInt8 {
        switch self {
        case .urlEncoded: 1
        case .base64Encoded: 2
        case .rfc9440: 3
        case .xfcc: 4
        }
    }
}
