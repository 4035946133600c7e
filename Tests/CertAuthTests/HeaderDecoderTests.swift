import Foundation
import Testing

@testable import CertAuth
import TestSupport

struct HeaderDecoderTests {
    let pki: CertAuthPKI
    init() throws { self.pki = try CertAuthPKI.load() }

    var chainPEM: String { self.pki.leaf.pem + self.pki.intermediate.pem }
    var expected: PresentedChain { PresentedChain(leaf: self.pki.leaf.der, intermediates: [self.pki.intermediate.der]) }

    func decode(_ format: CertificateHeaderFormat, _ value: String, chain: String? = nil,
                limits: HeaderDecoder.Limits = .init()) throws(HeaderDecodingError) -> PresentedChain {
        try HeaderDecoder(format: format, limits: limits).decode(value, chain: chain)
    }

    func reason(_ format: CertificateHeaderFormat, _ value: String, chain: String? = nil,
                limits: HeaderDecoder.Limits = .init()) -> HeaderDecodingError.Reason? {
        do {
            _ = try self.decode(format, value, chain: chain, limits: limits)
            return nil
        } catch {
            return error.reason
        }
    }

    // MARK: url_encoded

    @Test func albStyleChainWithUnescapedSafeCharacters() throws {
        let header = Encode.alb(self.chainPEM)
        #expect(header.contains("+") || header.contains("/"))  // the point of the test: raw base64 characters
        #expect(header.contains("%20") && header.contains("%0A"))
        #expect(try self.decode(.urlEncoded, header) == self.expected)
    }

    @Test func fullyEscapedChainAsKongFixturesAndNginxSend() throws {
        let header = Encode.full(self.chainPEM)
        #expect(!header.contains("+") && !header.contains("/") && !header.contains("="))
        #expect(try self.decode(.urlEncoded, header) == self.expected)
    }

    @Test func nginxEscapedSingleLeaf() throws {
        let chain = try self.decode(.urlEncoded, Encode.full(self.pki.leaf.pem))
        #expect(chain == PresentedChain(leaf: self.pki.leaf.der))
    }

    @Test func crlfLineEndsAndNoTrailingNewline() throws {
        let crlf = self.chainPEM.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(try self.decode(.urlEncoded, Encode.alb(crlf)) == self.expected)
        let trimmed = self.chainPEM.trimmingCharacters(in: .newlines)
        #expect(try self.decode(.urlEncoded, Encode.alb(trimmed)) == self.expected)
        // Lower-case hex escapes, and spaces instead of line breaks (some proxies flatten PEM that way).
        let spaced = Encode.alb(self.chainPEM.replacingOccurrences(of: "\n", with: " "))
        #expect(try self.decode(.urlEncoded, spaced) == self.expected)
        let lower = Encode.alb(self.chainPEM).replacingOccurrences(of: "%0A", with: "%0a")
        #expect(try self.decode(.urlEncoded, lower) == self.expected)
    }

    @Test func plusIsNeverASpace() throws {
        // A form-decoder would turn '+' into ' ' and silently change the certificate; we keep '+' literally.
        let header = Encode.alb(self.pki.leaf.pem)
        let chain = try self.decode(.urlEncoded, header)
        #expect(chain.leaf == self.pki.leaf.der)
    }

    @Test func urlEncodedFailures() {
        #expect(self.reason(.urlEncoded, "") == .empty)
        #expect(self.reason(.urlEncoded, "   ") == .empty)
        #expect(self.reason(.urlEncoded, "12345invalidcert67890") == .malformed)
        #expect(self.reason(.urlEncoded, Encode.alb(self.pki.leaf.pem) + "%G1") == .malformed)
        #expect(self.reason(.urlEncoded, Encode.alb(self.pki.leaf.pem) + "%4") == .malformed)
        #expect(self.reason(.urlEncoded, "hello" + Encode.alb(self.pki.leaf.pem)) == .malformed)
        #expect(self.reason(.urlEncoded, Encode.alb(self.pki.leaf.pem) + "trailer") == .malformed)
        let half = String(Encode.alb(self.pki.leaf.pem).prefix(300))
        #expect(self.reason(.urlEncoded, half) == .malformed)
        let key = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n"
            + "-----END PRIVATE KEY-----\n"
        #expect(self.reason(.urlEncoded, Encode.alb(key)) == .notACertificate)
        let notDER = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n"
        #expect(self.reason(.urlEncoded, Encode.alb(notDER)) == .notACertificate)
        #expect(self.reason(.urlEncoded, Encode.alb(self.pki.leaf.pem).replacingOccurrences(of: "%0A", with: "%00"))
            == .malformed)
    }

    @Test func limits() {
        let nine = String(repeating: self.pki.leaf.pem, count: 9)
        #expect(self.reason(.urlEncoded, Encode.alb(nine)) == .tooManyCertificates)
        let small = HeaderDecoder.Limits(maxHeaderBytes: 100, maxCertificates: 8)
        #expect(self.reason(.urlEncoded, Encode.alb(self.pki.leaf.pem), limits: small) == .tooLarge)
        #expect(self.reason(.base64Encoded, Encode.base64(self.pki.leaf.der), limits: small) == .tooLarge)
        let one = HeaderDecoder.Limits(maxCertificates: 1)
        #expect(self.reason(.urlEncoded, Encode.alb(self.chainPEM), limits: one) == .tooManyCertificates)
        #expect(self.reason(.base64Encoded, Encode.base64(self.pki.leaf.der + self.pki.intermediate.der),
                            limits: one) == .tooManyCertificates)
        let big = String(repeating: "A", count: 40 * 1024)
        for format in CertificateHeaderFormat.allCases {
            #expect(self.reason(format, big) == .tooLarge)
        }
    }

    // MARK: base64_encoded

    @Test func base64DERVariants() throws {
        let b64 = Encode.base64(self.pki.leaf.der)
        let leafOnly = PresentedChain(leaf: self.pki.leaf.der)
        #expect(try self.decode(.base64Encoded, b64) == leafOnly)
        // Wrapped at 64 columns with CRLF, and padding stripped.
        var wrapped = ""
        for (i, c) in b64.enumerated() {
            if i > 0, i % 64 == 0 { wrapped += "\r\n" }
            wrapped.append(c)
        }
        #expect(try self.decode(.base64Encoded, wrapped) == leafOnly)
        #expect(try self.decode(.base64Encoded, b64.replacingOccurrences(of: "=", with: "")) == leafOnly)
        // DER chain and base64-wrapped PEM chain.
        let derChain = Encode.base64(self.pki.leaf.der + self.pki.intermediate.der)
        #expect(try self.decode(.base64Encoded, derChain) == self.expected)
        #expect(try self.decode(.base64Encoded, Encode.base64(Array(self.chainPEM.utf8))) == self.expected)
    }

    @Test func base64Failures() {
        #expect(self.reason(.base64Encoded, "12345invalidcert67890") == .malformed)
        #expect(self.reason(.base64Encoded, "not base64 at all!") == .malformed)
        let b64 = Encode.base64(self.pki.leaf.der)
        #expect(self.reason(.base64Encoded, String(b64.dropLast(40))) == .malformed)   // truncated DER
        #expect(self.reason(.base64Encoded, b64 + "AAAA") == .malformed)               // trailing data
        #expect(self.reason(.base64Encoded, "-----BEGIN CERTIFICATE-----") == .malformed)  // PEM is not base64
        #expect(self.reason(.base64Encoded, Encode.base64(Array("hello world".utf8))) == .notACertificate)
        #expect(self.reason(.base64Encoded, "QQ=x") == .malformed)
        #expect(self.reason(.base64Encoded, "QR==") == .malformed)  // non-zero pad bits
    }

    // MARK: rfc9440

    @Test func rfc9440LeafAndChain() throws {
        let cert = ":\(Encode.base64(self.pki.leaf.der)):"
        #expect(try self.decode(.rfc9440, cert) == PresentedChain(leaf: self.pki.leaf.der))
        let chain = ":\(Encode.base64(self.pki.intermediate.der)):, :\(Encode.base64(self.pki.root.der)):"
        let decoded = try self.decode(.rfc9440, cert, chain: chain)
        #expect(decoded.intermediates == [self.pki.intermediate.der, self.pki.root.der])
        // Parameters are ignored; an empty chain header is an empty list.
        let withParameters = try self.decode(.rfc9440, cert + ";v=1;x=\"y\";z", chain: "")
        #expect(withParameters == PresentedChain(leaf: self.pki.leaf.der))
        // The chain header is used only by rfc9440.
        #expect(try self.decode(.base64Encoded, Encode.base64(self.pki.leaf.der), chain: "garbage").count == 1)
    }

    @Test func rfc9440Failures() {
        let b64 = Encode.base64(self.pki.leaf.der)
        #expect(self.reason(.rfc9440, "12345invalidcert67890") == .malformed)
        #expect(self.reason(.rfc9440, b64) == .malformed)                 // no colons
        #expect(self.reason(.rfc9440, ":\(b64)") == .malformed)           // unterminated
        #expect(self.reason(.rfc9440, "::") == .malformed)
        #expect(self.reason(.rfc9440, ":\(b64):, :\(b64):") == .malformed)  // Client-Cert is one item
        #expect(self.reason(.rfc9440, ":\(b64):", chain: ":\(b64):,") == .malformed)
        #expect(self.reason(.rfc9440, ":\(b64):", chain: "(:\(b64):)") == .malformed)
        #expect(self.reason(.rfc9440, ":aGVsbG8=:") == .notACertificate)
    }

    // MARK: xfcc

    @Test func xfccTakesTheLastElement() throws {
        let first = "By=spiffe://a;Hash=00;Cert=\"\(Encode.full(self.pki.otherLeaf.pem))\""
        let last = "By=spiffe://example.org/gw;Hash=\(self.pki.leaf.sha256);Cert=\"\(Encode.full(self.pki.leaf.pem))\";"
            + "Chain=\"\(Encode.full(self.chainPEM))\";Subject=\"/C=US/CN=kongclient\";"
            + "URI=spiffe://example.org/ns/prod/sa/api;DNS=client.example.com"
        #expect(try self.decode(.xfcc, first + "," + last) == self.expected)
        // Cert only, unquoted, lower-case key.
        let certOnly = "hash=1;cert=\(Encode.full(self.pki.leaf.pem))"
        #expect(try self.decode(.xfcc, first + "," + certOnly) == PresentedChain(leaf: self.pki.leaf.der))
    }

    @Test func xfccFailures() {
        let leaf = Encode.full(self.pki.leaf.pem)
        #expect(self.reason(.xfcc, "12345invalidcert67890") == .malformed)
        #expect(self.reason(.xfcc, "By=x;Hash=y") == .noCertificate)
        #expect(self.reason(.xfcc, "Cert=\(leaf),By=x") == .noCertificate)   // the last element has none
        #expect(self.reason(.xfcc, "Cert=\"\(leaf)") == .malformed)         // unterminated quote
        #expect(self.reason(.xfcc, "Cert=\(leaf);Cert=\(leaf)") == .malformed)
        #expect(self.reason(.xfcc, "Cert=\(leaf);Chain=\(Encode.full(self.pki.otherLeaf.pem))") == .malformed)
        #expect(self.reason(.xfcc, "Cert=a=b") == .malformed)
        #expect(self.reason(.xfcc, "Cert=\(leaf),") == .malformed)
    }

    // MARK: robustness

    @Test func truncationsAndMutationsNeverCrash() throws {
        let verifier = ChainVerifier(trustStore: try TrustStore(pems: [self.pki.root.pem]))
        let samples: [(CertificateHeaderFormat, String)] = [
            (.urlEncoded, Encode.alb(self.chainPEM)),
            (.base64Encoded, Encode.base64(self.pki.leaf.der)),
            (.rfc9440, ":\(Encode.base64(self.pki.leaf.der)):"),
            (.xfcc, "Hash=1;Cert=\"\(Encode.full(self.pki.leaf.pem))\""),
        ]
        var generator = SystemRandomNumberGenerator()
        var accepted = 0
        for (format, header) in samples {
            let bytes = Array(header.utf8)
            let decoder = HeaderDecoder(format: format)
            for cut in stride(from: 0, to: bytes.count, by: 7) {
                if let chain = try? decoder.decode(bytes: Array(bytes[..<cut])) {
                    _ = verifier.verify(chain, at: self.pki.now)
                    accepted += 1
                }
            }
            for _ in 0..<200 {
                var mutated = bytes
                let i = Int.random(in: 0..<mutated.count, using: &generator)
                mutated[i] = UInt8.random(in: 0...255, using: &generator)
                if let chain = try? decoder.decode(bytes: mutated) {
                    if case .trusted = verifier.verify(chain, at: self.pki.now) {
                        // Only a mutation that leaves the DER unchanged may still verify.
                        #expect(chain.leaf == self.pki.leaf.der)
                    }
                }
            }
        }
        // A few cuts land exactly after a complete PEM block or DER: those decode.
        #expect(accepted < 10)
    }
}
