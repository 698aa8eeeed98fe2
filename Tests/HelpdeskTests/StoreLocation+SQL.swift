import Foundation
import GRDB
import HelpdeskTestSupport

extension TemporaryStoreLocation {
    /// Runs `sql` (one or more statements) in the store's database behind the store's back: GRDB on
    /// the SQLite file, psql on the PostgreSQL database. The statements are written to work on both.
    func execute(_ sql: String) async throws {
        switch self {
        case .sqlite(let path):
            try await DatabaseQueue(path: path).write { db in try db.execute(sql: sql) }
        case .postgres(let endpoint):
            try await TemporaryPostgres.execute(sql, in: endpoint)
        }
    }

    /// The rows `sql` answers, read behind the store's back, each value as text (`nil` for NULL).
    func query(_ sql: String) async throws -> [[String?]] {
        switch self {
        case .sqlite(let path):
            return try await DatabaseQueue(path: path).read { db in
                try Row.fetchAll(db, sql: sql).map { row in
                    row.databaseValues.map { value -> String? in
                        switch value.storage {
                        case .null: return nil
                        case .int64(let integer): return String(integer)
                        case .double(let double): return String(double)
                        case .string(let text): return text
                        case .blob(let data): return String(decoding: data, as: UTF8.self)
                        }
                    }
                }
            }
        case .postgres(let endpoint):
            return try await TemporaryPostgres.query(sql, in: endpoint)
        }
    }
}
