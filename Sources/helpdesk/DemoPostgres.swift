import Foundation
import HelpdeskCore
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where PostgreSQL's server programs are: `pg_config --bindir` when `initdb` is there, else the
/// newest `/usr/lib/postgresql/*/bin` (Debian's `postgresql` package keeps them off PATH).
struct PostgresPrograms: Sendable {
    var directory: String

    func path(_ program: String) -> String {
        (directory as NSString).appendingPathComponent(program)
    }

    /// `nil` when neither place has `initdb`, `postgres` and `pg_ctl`.
    static func locate(environment: [String: String]) async -> PostgresPrograms? {
        var candidates: [String] = []
        let searchPath = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        if let pgConfig = (searchPath.map { "\($0)/pg_config" }.first { FileManager.default.isExecutableFile(atPath: $0) }),
           let result = try? await DemoChildProcess.run([pgConfig, "--bindir"], directory: NSTemporaryDirectory(),
                                                        environment: environment, timeout: .seconds(10)),
           result.status == 0 {
            candidates.append(result.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let debian = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: debian)) ?? []
        candidates += versions.sorted { (Double($0) ?? 0) > (Double($1) ?? 0) }.map { "\(debian)/\($0)/bin" }
        return candidates.map(PostgresPrograms.init).first { programs in
            ["initdb", "postgres", "pg_ctl"].allSatisfy { FileManager.default.isExecutableFile(atPath: programs.path($0)) }
        }
    }
}

/// Whom PostgreSQL's programs run as: this process's user, or — started as root, which `initdb` and
/// `postgres` refuse — the `postgres` user, through runuser (as the integration tests start it) or setpriv.
struct PostgresAccount: Sendable {
    /// What goes before a program to run it as that user; empty when it is this process's.
    var prefix: [String]
    /// The owner to give PostgreSQL's folder; `nil` when it is this process's user.
    var owner: (uid: uid_t, gid: gid_t)?

    static func forThisProcess() throws(DemoError) -> PostgresAccount {
        guard geteuid() == 0 else { return PostgresAccount(prefix: [], owner: nil) }
        guard let entry = getpwnam("postgres") else {
            throw DemoError("started as root, helpdesk demo runs PostgreSQL as the user postgres, and there is none: "
                            + "apt-get install postgresql creates it, or run the demo as another user")
        }
        let owner = (uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
        let executable = { (paths: [String]) in paths.first { FileManager.default.isExecutableFile(atPath: $0) } }
        if let runuser = executable(["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser", "/bin/runuser"]) {
            return PostgresAccount(prefix: [runuser, "-u", "postgres", "--"], owner: owner)
        }
        if let setpriv = executable(["/usr/bin/setpriv", "/bin/setpriv"]) {
            return PostgresAccount(prefix: [setpriv, "--reuid=postgres", "--regid=postgres", "--init-groups", "--"], owner: owner)
        }
        throw DemoError("started as root, helpdesk demo runs PostgreSQL as the user postgres through runuser or setpriv "
                        + "(util-linux), and neither is installed; or run the demo as another user")
    }
}

/// The demo's throwaway PostgreSQL: a cluster in its own folder, reachable only on a Unix socket
/// there (no TCP port), trusting local connections, with few connection slots so that the planted
/// sessions visibly fill them. The server is this process's child: nothing is left behind to reap.
final class DemoPostgres: Sendable {
    /// Names the socket file only: the server listens on no TCP port.
    static let port = 5432
    static let maxConnections = 40

    let programs: PostgresPrograms
    let account: PostgresAccount
    /// Holds `data/`, the socket and `postgres.log`; owned by the server's user, mode 0700.
    let folder: String
    private let server = Mutex<DemoChildProcess?>(nil)

    init(programs: PostgresPrograms, account: PostgresAccount, folder: String) {
        self.programs = programs
        self.account = account
        self.folder = folder
    }

    var dataDirectory: String { (folder as NSString).appendingPathComponent("data") }
    var logFile: String { (folder as NSString).appendingPathComponent("postgres.log") }

    /// A plain environment: the caller's PG* variables or locale must not change what initdb makes.
    private var environment: [String: String] { ["PATH": "/usr/bin:/bin", "LC_ALL": "C", "LANG": "C"] }

    /// Creates the folder and the cluster in it (`initdb`: trust on the socket, UTF-8, no locale).
    func initialize() async throws {
        try createPrivateDirectory(folder)
        if let owner = account.owner, chown(folder, owner.uid, owner.gid) != 0 {
            throw DemoError("cannot give \(folder) to the postgres user: \(String(cString: strerror(errno)))")
        }
        let result = try await DemoChildProcess.run(
            account.prefix + [programs.path("initdb"), "-D", dataDirectory, "-U", "postgres", "--auth-local=trust", "--auth-host=reject",
                              "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"],
            directory: folder, environment: environment, timeout: .seconds(120))
        guard result.status == 0 else {
            throw DemoError("initdb failed (exit \(result.status)):\n\(Self.tail(result.output))")
        }
    }

    /// Starts the server and returns once it answers on its socket; its log tail says why when it does not.
    func start(logger: Logger) async throws {
        let child = try DemoChildProcess(
            account.prefix + [programs.path("postgres"), "-D", dataDirectory, "-k", folder, "-p", "\(Self.port)",
                              "-c", "listen_addresses=", "-c", "max_connections=\(Self.maxConnections)", "-c", "fsync=off"],
            directory: folder, environment: environment, output: logFile)
        server.withLock { $0 = child }
        let database = DemoDatabase(socketDirectory: folder, port: Self.port)
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            guard child.isRunning else {
                throw DemoError("PostgreSQL stopped while starting; the end of its log:\n\(logTail())")
            }
            do {
                try await database.answer(logger: logger)
                return
            } catch {
                try Task.checkCancellation()
                guard ContinuousClock.now < deadline else {
                    throw DemoError("PostgreSQL did not answer within 30s (\(error)); the end of its log:\n\(logTail())")
                }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Stops the server (`pg_ctl stop -m fast`: every session is disconnected, its transaction rolled
    /// back) and waits for it to exit; `immediate`, then a signal, when it does not. Run it whatever
    /// happened before, from a task that is not cancelled.
    func stop() async {
        guard let child = server.withLock({ $0 }), child.isRunning else { return }
        for mode in ["fast", "immediate"] {
            _ = try? await DemoChildProcess.run(
                account.prefix + [programs.path("pg_ctl"), "-D", dataDirectory, "-m", mode, "-w", "-t", "20", "stop"],
                directory: folder, environment: environment, timeout: .seconds(30))
            if await child.wait(upTo: .seconds(5)) != nil { return }
        }
        await child.stop()
    }

    /// The last lines of the server's log.
    func logTail() -> String {
        Self.tail(String(decoding: FileManager.default.contents(atPath: logFile) ?? Data(), as: UTF8.self))
    }

    static func tail(_ text: String, lines: Int = 20) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}

/// The demo's own folder under the temporary directory (`helpdesk-demo-XXXXXX`, made by mkdtemp):
/// everything the demo makes is inside, and it is removed whole at the end. Started as root, the
/// folder lets the postgres user pass (0711) to the PostgreSQL folder it owns; nothing else in it is
/// readable by others.
enum DemoFolder {
    static func create(passableBy account: PostgresAccount) throws -> String {
        var template = Array((NSTemporaryDirectory() as NSString).appendingPathComponent("helpdesk-demo-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw DemoError("cannot create a folder under \(NSTemporaryDirectory()): \(String(cString: strerror(errno)))")
        }
        let folder = String(cString: made)
        if account.owner != nil {
            try FileManager.default.setAttributes([.posixPermissions: 0o711], ofItemAtPath: folder)
        }
        return folder
    }

    static func remove(_ folder: String) {
        do {
            try FileManager.default.removeItem(atPath: folder)
        } catch {
            printError("cannot remove \(folder): \(error.localizedDescription)")
        }
    }
}
