package import Foundation
import GatewayModel

/// The source tree, for tests that read committed files (examples/).
package enum Repo {
    /// The folder holding Package.swift, found from this file's path.
    package static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    package static func text(_ relative: String) throws -> String {
        try String(contentsOf: self.root.appendingPathComponent(relative), encoding: .utf8)
    }

    /// The id the example file gives its CA certificate.
    package static let exampleCAID = "7c3f0a4e-0000-4000-8000-000000000001"

    /// The CA certificate committed in examples/alb-mtls.yaml (valid until 2126).
    package static func exampleCA() throws -> String {
        let doc = try DeclarativeLoader.parseText(try self.text("examples/alb-mtls.yaml"))
        guard let pem = doc["ca_certificates"]?.arrayValue?.first?["cert"]?.stringValue else {
            throw TestPKI.Failure(description: "examples/alb-mtls.yaml has no CA certificate")
        }
        return pem
    }
}
