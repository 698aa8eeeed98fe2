import Foundation
import HelpdeskPostgres
import Logging
import PostgresNIO

/// Applies the PostgreSQL schema inside one transaction holding the migrations advisory lock:
/// replicas starting together wait for the first, then find nothing left to do. DDL is
/// transactional in PostgreSQL, so a failed migration leaves the schema as it was.
enum PostgresMigrator {
    static func prepare(client: PostgresClient, options: PostgresStore.Options) async throws -> MigrationReport {
        let logger = options.logger
        let location = options.endpoint.displayName
        return try await client.withConnection { connection in
            try await connection.run("BEGIN", logger)
            do {
                let report = try await migrate(connection, options: options, location: location, logger: logger)
                try await connection.run("COMMIT", logger)
                return report
            } catch {
                try? await connection.run("ROLLBACK", logger)
                throw error
            }
        }
    }

    /// The schema as found, without changing it (a read-only look for `helpdesk version`).
    static func status(client: PostgresClient, logger: Logger) async throws -> SchemaStatus {
        try await client.withConnection { connection in
            let exists = try await connection.row("SELECT to_regclass('helpdesk_migrations') IS NOT NULL", logger)?[0].decode(Bool.self) ?? false
            return status(applied: exists ? try await applied(connection, logger) : [])
        }
    }

    private static func migrate(_ connection: PostgresConnection, options: PostgresStore.Options, location: String,
                                logger: Logger) async throws -> MigrationReport {
        // Another replica may hold the lock for as long as its migrations take, and a migration may be slow.
        try await connection.run("SET LOCAL statement_timeout = 0", logger)
        try await connection.run("SET LOCAL lock_timeout = 0", logger)
        try await connection.lock("helpdesk.migrations", logger)
        try await connection.run("""
            CREATE TABLE IF NOT EXISTS helpdesk_migrations (
                identifier TEXT PRIMARY KEY,
                applied_at DOUBLE PRECISION NOT NULL
            )
            """, logger)
        let before = status(applied: try await applied(connection, logger))
        guard before.unknown.isEmpty else { throw StoreError.newerSchema(path: location, unknownMigrations: before.unknown) }
        let pending = PostgresSchema.migrations.filter { migration in !migration.identifiers.allSatisfy(before.applied.contains) }
        guard !pending.isEmpty else { return MigrationReport(before: before, after: before) }
        let fresh = before.applied.isEmpty
        guard options.migrateOnOpen || (fresh && options.initializeEmpty) else {
            throw StoreError.olderSchema(path: location, version: before.applied.count, latest: before.known.count,
                                         pending: before.known.filter { !before.applied.contains($0) })
        }
        options.willMigrate?(before)
        let now = Date().timeIntervalSince1970
        for migration in pending {
            do {
                // postgres-nio prepares each query, and a prepared statement holds one command.
                for statement in migration.statements {
                    try await connection.run(PostgresQuery(unsafeSQL: statement), logger)
                }
            } catch {
                throw StoreError.migrationFailed(path: location, reason: "\(migration.identifiers.last ?? "?"): \(PostgresStore.describe(error))")
            }
            for identifier in migration.identifiers {
                try await connection.run("INSERT INTO helpdesk_migrations (identifier, applied_at) VALUES (\(identifier), \(now))", logger)
            }
        }
        let after = status(applied: try await applied(connection, logger))
        logger.info("store schema migrated", metadata: ["from": "\(before.applied.count)", "to": "\(after.applied.count)", "store": "\(location)"])
        return MigrationReport(before: before, after: after)
    }

    private static func applied(_ connection: PostgresConnection, _ logger: Logger) async throws -> [String] {
        try await connection.rows("SELECT identifier FROM helpdesk_migrations", logger).map { try $0[0].decode(String.self) }
    }

    /// Applied identifiers in the known order, then any unknown ones.
    static func status(applied: [String]) -> SchemaStatus {
        let known = PostgresSchema.knownIdentifiers
        let appliedSet = Set(applied)
        return SchemaStatus(known: known, applied: known.filter(appliedSet.contains),
                            unknown: applied.filter { !known.contains($0) }.sorted())
    }
}
