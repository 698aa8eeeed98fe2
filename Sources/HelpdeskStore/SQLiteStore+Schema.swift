import GRDB

extension SQLiteStore {
    /// Every migration this binary knows, oldest first (`helpdesk version` shows how many).
    public static var knownMigrations: [String] { SQLiteMigrations.migrator.migrations }

    /// Where the schema of the database open on `db` stands; an empty file is version 0.
    static func schemaStatus(_ db: Database) throws -> SchemaStatus {
        let migrator = SQLiteMigrations.migrator
        let appliedIdentifiers = try migrator.appliedIdentifiers(db)
        return SchemaStatus(known: migrator.migrations, applied: try migrator.appliedMigrations(db),
                            unknown: appliedIdentifiers.subtracting(migrator.migrations).sorted())
    }

    /// Refuses a schema from a newer helpdesk; then applies pending migrations, or, when the options
    /// allow none, refuses a schema behind this binary so nothing runs on tables it does not expect.
    static func prepareSchema(_ database: DatabasePool, path: String, options: Options) throws -> MigrationReport {
        let before = try database.read { db in try schemaStatus(db) }
        guard !before.isNewer else {
            throw StoreError.newerSchema(path: path, unknownMigrations: before.unknown)
        }
        guard !before.isCurrent else { return MigrationReport(before: before, after: before) }
        guard options.migrateOnOpen || (options.initializeEmpty && before.version == 0) else {
            throw StoreError.olderSchema(path: path, version: before.version, latest: before.latestVersion, pending: before.pending)
        }
        options.willMigrate?(before)
        try SQLiteMigrations.migrator.migrate(database)
        let after = try database.read { db in try schemaStatus(db) }
        return MigrationReport(before: before, after: after)
    }
}
