import Foundation
import TestSupport

/// Where the package and the built `portcullis` binary are.
enum Paths {
    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    /// The package root (TestSupport's ``Repo/root``), checked.
    static func packageRoot() throws -> URL {
        guard FileManager.default.fileExists(atPath: Repo.root.appendingPathComponent("Package.swift").path) else {
            throw Missing(description: "no Package.swift at \(Repo.root.path)")
        }
        return Repo.root
    }

    /// `.build/debug/portcullis`, which `swift build --build-tests` (and `make test`) produce.
    static func binary() throws -> URL {
        let url = try self.packageRoot().appendingPathComponent(".build/debug/portcullis")
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw Missing(description: "the portcullis binary is missing at \(url.path): run `swift build --build-tests` "
                + "(or `swift build --product portcullis`) before `swift test --skip-build`")
        }
        return url
    }

    static func example(_ name: String) throws -> URL {
        let url = try self.packageRoot().appendingPathComponent("examples/\(name)")
        guard FileManager.default.fileExists(atPath: url.path) else { throw Missing(description: "missing \(url.path)") }
        return url
    }
}

/// A fresh directory under /tmp (kept short: it holds a Unix socket path), removed on deinit.
final class TempDir: Sendable {
    let url: URL

    init() throws {
        let name = "pc-it-" + UUID().uuidString.prefix(8).lowercased()
        self.url = URL(fileURLWithPath: "/tmp").appendingPathComponent(name)
        try FileManager.default.createDirectory(at: self.url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { self.url.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String) throws -> String {
        let p = self.path(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: p))
        return p
    }

    deinit { try? FileManager.default.removeItem(at: self.url) }
}
