import GRDB

extension SQLiteBackup {
    /// How the schema objects in `db` differ from those its applied migrations create, run on an
    /// empty in-memory database; empty when they are the same. Anything else in a backup — a
    /// trigger that deletes audit events, a view, a changed table — would be restored with it and
    /// run in the live store.
    static func schemaDifferences(_ db: Database, applied: [String]) throws -> [String] {
        let migrator = SQLiteMigrations.migrator
        guard applied == Array(migrator.migrations.prefix(applied.count)) else {
            return ["its migrations (\(applied.joined(separator: ", "))) are not the first \(applied.count) this helpdesk knows"]
        }
        guard let last = applied.last else { return [] }
        let reference = try DatabaseQueue()
        try migrator.migrate(reference, upTo: last)
        let expected = try reference.read { db in try schemaObjects(db) }
        let found = try schemaObjects(db)
        var differences: [String] = []
        for (object, definition) in found.sorted(by: { $0.key < $1.key }) {
            guard let wanted = expected[object] else {
                differences.append("\(object) is not made by any migration")
                continue
            }
            if definition != wanted { differences.append("\(object) is not defined as the migrations define it") }
        }
        for object in expected.keys.sorted() where found[object] == nil {
            differences.append("\(object) is missing")
        }
        return differences
    }

    struct SchemaObject: Hashable, Comparable, CustomStringConvertible {
        let type: String
        let name: String

        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.type, lhs.name) < (rhs.type, rhs.name) }

        var description: String { "\(type) \"\(name)\"" }
    }

    /// Every row of sqlite_master as object → table and SQL (whitespace runs folded). SQLite's
    /// statistics tables (from ANALYZE) only steer the query planner, so they may be there or not.
    private static func schemaObjects(_ db: Database) throws -> [SchemaObject: String] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT CAST(type AS TEXT) AS type, CAST(name AS TEXT) AS name, CAST(tbl_name AS TEXT) AS tbl_name,
                   CAST(sql AS TEXT) AS sql
            FROM sqlite_master
            """)
        var objects: [SchemaObject: String] = [:]
        for row in rows {
            let type: String? = row["type"], name: String? = row["name"], table: String? = row["tbl_name"], sql: String? = row["sql"]
            let object = SchemaObject(type: type ?? "", name: name ?? "")
            if object.type == "table", ["sqlite_stat1", "sqlite_stat4"].contains(object.name) { continue }
            let folded = (sql ?? "").split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
            // Two rows with one type and name cannot come from SQLite itself: keep both apart.
            let definition = (table ?? "") + "\n" + folded
            objects[object] = objects[object].map { $0 + "\n--\n" + definition } ?? definition
        }
        return objects
    }
}
