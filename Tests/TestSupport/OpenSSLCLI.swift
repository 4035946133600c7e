import Foundation

/// The `openssl` command line, as the test PKIs mint their certificates with it.
package enum OpenSSLCLI {
    package struct Failure: Error, CustomStringConvertible {
        package var description: String
    }

    /// Runs `openssl arguments…` and returns its standard output; a failure carries its standard error.
    @discardableResult
    package static func run(_ arguments: [String]) throws(Failure) -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["openssl"] + arguments
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do {
            try p.run()
        } catch {
            throw Failure(description: "cannot run openssl: \(error)")
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw Failure(description: "openssl \(arguments.joined(separator: " ")) failed: "
                + String(decoding: stderr, as: UTF8.self))
        }
        return String(decoding: stdout, as: UTF8.self)
    }
}

/// The X.509 extension sections the test PKIs share, as `openssl` config text: a root CA and an intermediate CA
/// that may sign only leaves (`extra` lines are appended to a section, e.g. a CRL distribution point).
package enum X509Profiles {
    package static func rootCA(section: String) -> String {
        """
        [\(section)]
        basicConstraints = critical,CA:TRUE
        keyUsage = critical,keyCertSign,cRLSign
        subjectKeyIdentifier = hash

        """
    }

    package static func intermediateCA(section: String, extra: [String] = []) -> String {
        """
        [\(section)]
        basicConstraints = critical,CA:TRUE,pathlen:0
        keyUsage = critical,keyCertSign,cRLSign
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid:always

        """ + extra.map { $0 + "\n" }.joined()
    }
}
