import Foundation
import NIOSSL

/// The TLS listener's server context: the certificate chain and key read once at startup, ALPN `http/1.1`.
enum ProxyTLS {
    /// Why the TLS listener cannot start; names the file at fault.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func serverContext(certificatePath: String, keyPath: String) throws(Failure) -> NIOSSLContext {
        for (what, path) in [("certificate", certificatePath), ("key", keyPath)]
        where !FileManager.default.isReadableFile(atPath: path) {
            throw Failure(description: "TLS \(what) file \(path) does not exist or is not readable")
        }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw Failure(description: "TLS certificate file \(certificatePath) holds no valid PEM certificate: \(error)")
        }
        guard !chain.isEmpty else {
            throw Failure(description: "TLS certificate file \(certificatePath) holds no PEM certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw Failure(description: "TLS key file \(keyPath) holds no valid unencrypted PEM private key: \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.applicationProtocols = ["http/1.1"]
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw Failure(description: "TLS key file \(keyPath) does not match the certificate in \(certificatePath): \(error)")
        }
    }
}
