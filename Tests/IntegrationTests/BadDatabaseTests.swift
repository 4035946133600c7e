import Foundation
import Testing

/// A database path that cannot be used is a clear startup error (non-zero exit), never a crash with a backtrace.
@Suite("Bad --db")
struct BadDatabaseTests {
    enum Case: String, CaseIterable, CustomTestStringConvertible {
        /// The parent "directory" is a regular file, so it cannot be created.
        case parentIsAFile
        /// The file exists but is not SQLite.
        case notSQLite
        /// The path is a directory.
        case isADirectory
        /// The path is a one-character directory name relative to the working directory (this used to trap in
        /// Foundation's NSString.deletingLastPathComponent).
        case shortRelativeDirectory

        var testDescription: String { self.rawValue }
    }

    @Test("a bad --db fails with a clear message and a non-zero exit", arguments: Case.allCases)
    func badDatabase(_ kind: Case) async throws {
        let dir = try TempDir()
        let db: String
        var expected: String
        switch kind {
        case .parentIsAFile:
            _ = try dir.write("plain-file", "not a directory\n")
            db = dir.path("plain-file/sub/portcullis.db")
            expected = "cannot create the directory '\(dir.path("plain-file/sub"))' of the database '\(db)': Not a directory"
        case .notSQLite:
            db = try dir.write("garbage.db", String(repeating: "this is not an SQLite database\n", count: 200))
            expected = "cannot open the database '\(db)': SQLite error 26: file is not a database"
        case .isADirectory:
            db = dir.path("a-directory")
            try FileManager.default.createDirectory(atPath: db, withIntermediateDirectories: true)
            expected = "cannot open the database '\(db)': SQLite error 14: unable to open database file"
        case .shortRelativeDirectory:
            db = "d"
            try FileManager.default.createDirectory(atPath: dir.path(db), withIntermediateDirectories: true)
            expected = "cannot open the database 'd'"
        }
        let before = try? Data(contentsOf: URL(fileURLWithPath: db))
        let result = try await Subprocess.run(
            try Paths.binary(),
            ["control-plane", "--db", db, "--admin-listen", "127.0.0.1:0", "--cluster-socket", dir.path("s.sock")],
            workingDirectory: dir.url, timeout: .seconds(30))
        #expect(result.exitedNormally, "killed by a signal: \(result)")
        #expect(result.status == 1, "\(result)")
        #expect(!result.stderr.contains("admin API listening"), "\(result)")
        #expect(result.stderr.contains("cannot start the control plane"), "\(result)")
        #expect(result.stderr.contains(expected), "\(result)")
        for crashSign in ["Fatal error", "Program crashed", "Backtrac", "Stack dump", "NSCocoaErrorDomain"] {
            #expect(!result.stderr.contains(crashSign), "\(result)")
        }
        if kind == .notSQLite {
            let after = try? Data(contentsOf: URL(fileURLWithPath: db))
            #expect(after == before, "a foreign file must not be modified")
        }
    }

    @Test("a one-character relative --db path is a file in the working directory")
    func shortRelativePath() async throws {
        let dir = try TempDir()
        let cp = try await ControlPlaneProcess.start(
            in: dir, arguments: ["--db", "a", "--admin-listen", "127.0.0.1:0", "--cluster-socket", "s"],
            workingDirectory: dir.url)
        try await cp.admin().expect(201, "POST", "/consumers", body: #"{"username":"short"}"#)
        #expect(FileManager.default.fileExists(atPath: dir.path("a")))
        #expect(try await cp.stop() == 0, "\(cp.log)")
    }
}
