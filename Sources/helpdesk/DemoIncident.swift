import Foundation
import HelpdeskPostgres
import HelpdeskServer
import Logging
import PostgresNIO

/// The demo's PostgreSQL as a client sees it: its socket folder and port, and the `shop` database
/// the story happens in.
struct DemoDatabase: Sendable {
    var socketDirectory: String
    var port: Int

    /// One session over the Unix socket (trust: no password), through the same endpoint code as the
    /// bot's own tool calls.
    func connect(user: String, database: String, application: String, logger: Logger) async throws -> PostgresConnection {
        var spec = try PostgresConnectionString(parsing: "sslmode=disable")
        spec.host = socketDirectory
        spec.port = port
        spec.user = user
        spec.database = database
        spec.applicationName = application
        let configuration = try PostgresEndpoint(connection: spec, password: nil).connectionConfiguration()
        return try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
    }

    /// Connects and disconnects: throws until the server takes sessions.
    func answer(logger: Logger) async throws {
        try await connect(user: "postgres", database: "postgres", application: "helpdesk-demo", logger: logger).close()
    }

    /// The shop: the application's role `app` owning database `shop` with a table of orders, and the
    /// bot's role, which may read every session (pg_monitor) and end other roles' (pg_signal_backend).
    func create(logger: Logger) async throws {
        let admin = try await connect(user: "postgres", database: "postgres", application: "helpdesk-demo", logger: logger)
        do {
            for statement in ["CREATE ROLE app LOGIN", "CREATE ROLE \(DemoFiles.botRole) LOGIN IN ROLE pg_monitor, pg_signal_backend",
                              "CREATE DATABASE shop OWNER app"] {
                try await admin.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            try await admin.close()
        } catch {
            try? await admin.close()
            throw DemoError("cannot create the demo database: \(PostgresEndpoint.describe(error))")
        }
        let app = try await connect(user: "app", database: "shop", application: "helpdesk-demo", logger: logger)
        do {
            try await app.query(PostgresQuery(unsafeSQL: """
                CREATE TABLE orders (id integer PRIMARY KEY, customer text NOT NULL, status text NOT NULL,
                                     total numeric(10, 2) NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())
                """), logger: logger)
            try await app.query(PostgresQuery(unsafeSQL: """
                INSERT INTO orders (id, customer, status, total)
                SELECT n, 'customer ' || n, 'placed', round((5 + random() * 200)::numeric, 2) FROM generate_series(1, 200) AS n
                """), logger: logger)
            try await app.close()
        } catch {
            try? await app.close()
            throw DemoError("cannot fill the demo database: \(PostgresEndpoint.describe(error))")
        }
    }
}

/// The incident the demo plants, with real sessions: `checkout-worker` updated order 1 inside a
/// transaction and went idle without committing, so it holds the row's lock; five `order-updater`
/// sessions update the same row and wait behind it; idle `order-api` sessions hold connection slots,
/// as an application's pool does while its requests hang. Every session stays open until the fix
/// ends the blocker's, or until the demo closes them.
final class DemoIncident: Sendable {
    static let blockedUpdates = 5
    static let idleSessions = 18

    /// The backend PID of the session holding the lock: what the diagnosis must name.
    let blockerPID: Int
    /// When the blocker went idle in its transaction; the runbook's rule wants it idle 10 s or more.
    let idleSince: ContinuousClock.Instant
    private let sessions: [PostgresConnection]
    private let updaters: [PostgresConnection]
    private let logger: Logger

    private init(blockerPID: Int, idleSince: ContinuousClock.Instant, sessions: [PostgresConnection], updaters: [PostgresConnection],
                 logger: Logger) {
        self.blockerPID = blockerPID
        self.idleSince = idleSince
        self.sessions = sessions
        self.updaters = updaters
        self.logger = logger
    }

    /// Opens the sessions and leaves the blocker's transaction open. The blocked updates start with
    /// ``runBlockedUpdates()``.
    static func plant(in database: DemoDatabase, logger: Logger) async throws -> DemoIncident {
        var opened: [PostgresConnection] = []
        do {
            let blocker = try await database.connect(user: "app", database: "shop", application: "checkout-worker", logger: logger)
            opened.append(blocker)
            var pid = 0
            for try await row in try await blocker.query("SELECT pg_backend_pid()", logger: logger) {
                pid = try row.decode(Int.self)
            }
            try await blocker.query("BEGIN", logger: logger)
            try await blocker.query("UPDATE orders SET status = 'paid', updated_at = now() WHERE id = 1", logger: logger)
            let idleSince = ContinuousClock.now
            var updaters: [PostgresConnection] = []
            for _ in 0..<blockedUpdates {
                updaters.append(try await database.connect(user: "app", database: "shop", application: "order-updater", logger: logger))
                opened.append(updaters[updaters.count - 1])
            }
            for _ in 0..<idleSessions {
                opened.append(try await database.connect(user: "app", database: "shop", application: "order-api", logger: logger))
            }
            return DemoIncident(blockerPID: pid, idleSince: idleSince, sessions: opened, updaters: updaters, logger: logger)
        } catch {
            for connection in opened { try? await connection.close() }
            throw DemoError("cannot plant the incident: \(PostgresEndpoint.describe(error))")
        }
    }

    /// Runs the blocked updates of order 1, one per `order-updater` session, and returns once every one
    /// has finished: they wait until the blocker's transaction ends. Cancelled, it closes their sessions.
    func runBlockedUpdates() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for connection in updaters {
                group.addTask { [logger] in
                    try await withTaskCancellationHandler {
                        _ = try await connection.query("UPDATE orders SET status = 'packed', updated_at = now() WHERE id = 1",
                                                       logger: logger)
                    } onCancel: {
                        connection.close() as Void  // closes the channel now (the pool's close, not the future's)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Closes every session still open (the blocker's is gone once the fix ran).
    func close() async {
        for connection in sessions { try? await connection.close() }
    }
}
