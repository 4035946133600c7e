import Foundation

/// Where the package and the built `portcullis` binary are.
enum Paths {
    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    /// The package root: the nearest ancestor of this source file that holds `Package.swift`.
    static func packageRoot(filePath: String = #filePath) throws -> URL {
        var dir = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
            dir = dir.deletingLastPathComponent()
        }
        throw Missing(description: "no Package.swift above \(filePath)")
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
