import ArgumentParser
import ControlPlane
import Foundation
import Hummingbird
import Logging
import NIOCore

struct ControlPlaneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "control-plane",
        abstract: "Run the control plane: SQLite config store, Kong-compatible admin API, snapshot history."
    )

    @Option(help: ArgumentHelp(Environment.help("Path of the SQLite database file", "db")))
    var db: String = Environment.string("db", default: "./.portcullis/portcullis.db")

    @Option(help: ArgumentHelp(Environment.help("Admin API listen address (port 0 picks a free port)", "admin-listen")))
    var adminListen: String = Environment.string("admin-listen", default: "127.0.0.1:8001")

    @Option(help: ArgumentHelp(Environment.help("Unix socket data planes connect to", "cluster-socket")))
    var clusterSocket: String = Environment.string("cluster-socket", default: "./.portcullis/cluster.sock")

    @Option(help: ArgumentHelp(Environment.help(
        "Token every admin request must carry (Kong-Admin-Token or Authorization: Bearer)", "admin-token")))
    var adminToken: String?

    @Flag(help: ArgumentHelp(Environment.help(
        "Serve the admin API on a non-loopback address without --admin-token (anyone who reaches it can change the "
            + "configuration)", "admin-insecure")))
    var adminInsecure: Bool = Environment.value("admin-insecure").map { ["1", "true", "yes"].contains($0.lowercased()) }
        ?? false

    @Option(help: ArgumentHelp(Environment.help(
        "Comma-separated CIDRs trusted to send certificate headers, for plugins with secure_source", "trusted-ips")))
    var trustedIps: String = Environment.string("trusted-ips", default: "")

    @Option(help: ArgumentHelp(Environment.help("Snapshots kept in history", "snapshot-retention")))
    var snapshotRetention: Int = Environment.int("snapshot-retention", default: 500)

    @Option(help: ArgumentHelp(Environment.help("Largest admin request body, in bytes", "admin-body-limit")))
    var adminBodyLimit: Int = Environment.int("admin-body-limit", default: 64 * 1024 * 1024)

    @Option(help: ArgumentHelp(Environment.help("Largest cluster frame accepted from a data plane, in bytes", "cluster-max-frame")))
    var clusterMaxFrame: Int = Environment.int("cluster-max-frame", default: 256 * 1024 * 1024)

    @Option(help: ArgumentHelp(Environment.help(
        "Cluster heartbeat interval in milliseconds (a data plane silent for 3 intervals is stale)", "heartbeat-interval")))
    var heartbeatInterval: Int = Environment.int("heartbeat-interval", default: 1000)

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard let listen = ListenAddress(self.adminListen) else {
            throw ValidationError("--admin-listen must be HOST:PORT, got '\(self.adminListen)'")
        }
        let token = self.adminToken ?? Environment.value("admin-token")
        if !Self.isLoopback(listen.host), token?.isEmpty ?? true, !self.adminInsecure {
            throw ValidationError(
                "--admin-listen \(self.adminListen) is not a loopback address and no --admin-token (or "
                    + "PORTCULLIS_ADMIN_TOKEN) is set: anyone who reaches it could change the configuration. Set a "
                    + "token, listen on 127.0.0.1, or pass --admin-insecure to accept that")
        }
        guard self.snapshotRetention >= 1 else { throw ValidationError("--snapshot-retention must be at least 1") }
        guard self.adminBodyLimit >= 1024 else { throw ValidationError("--admin-body-limit must be at least 1024") }
        guard self.clusterMaxFrame >= 1024 else { throw ValidationError("--cluster-max-frame must be at least 1024") }
        guard (50...60_000).contains(self.heartbeatInterval) else {
            throw ValidationError("--heartbeat-interval must be between 50 and 60000 milliseconds")
        }
    }

    func run() async throws {
        let logger = self.logging.bootstrap(label: "portcullis.control-plane")
        guard let listen = ListenAddress(self.adminListen) else { throw ExitCode.validationFailure }

        var config = ControlPlaneConfiguration()
        config.databasePath = self.db
        config.adminHost = listen.host
        config.adminPort = listen.port
        config.clusterSocket = self.clusterSocket
        config.adminToken = self.adminToken ?? Environment.value("admin-token")
        config.trustedIPs = self.trustedIps.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        config.snapshotRetention = self.snapshotRetention
        config.adminBodyLimit = self.adminBodyLimit
        config.clusterMaxFrame = self.clusterMaxFrame
        config.heartbeatInterval = .milliseconds(self.heartbeatInterval)
        config.metricsRegistry = MetricsBootstrap.registry()

        // The database has one writer: a second control plane on the same file is refused (the lock is the
        // kernel's: it goes with the process, however the process ends).
        let lock: Int32?
        do {
            lock = try DatabaseLock.acquire(for: self.db)
        } catch {
            logger.critical("cannot start the control plane", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
        defer { if let lock { close(lock) } }

        let server: ControlPlaneServer
        do {
            server = try ControlPlaneServer(configuration: config, logger: logger)
        } catch {
            logger.critical("cannot start the control plane", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
        logger.info("database opened", metadata: ["path": "\(self.db)"])
        let app = server.application { channel in
            let address = channel.localAddress.map(Self.describe) ?? "\(listen.host):\(listen.port)"
            logger.notice("admin API listening on \(address)")
        }
        try await app.runService()
    }

    /// `localhost`, 127.0.0.0/8 and ::1 (also written in full or IPv4-mapped): only this machine can connect.
    static func isLoopback(_ host: String) -> Bool {
        var host = host.lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, host, &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
        // ::ffff:127.x.y.z
        return bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
    }

    static func describe(_ address: SocketAddress) -> String {
        let ip = address.ipAddress ?? "?"
        let port = address.port ?? 0
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}

/// An exclusive `flock` on `DB.lock` beside the database, held for the life of the control plane.
enum DatabaseLock {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The locked descriptor, or nil when no lock file can be made there (the database's own opening then says
    /// what is wrong with the path, and fails).
    static func acquire(for database: String) throws -> Int32? {
        let path = database + ".lock"
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno == EWOULDBLOCK
                ? "another control plane is using the database \(database) (it holds \(path)); stop it first"
                : "cannot lock \(path): \(String(cString: strerror(errno)))"
            close(fd)
            throw Failure(description: reason)
        }
        return fd
    }
}
