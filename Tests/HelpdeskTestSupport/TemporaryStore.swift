import HelpdeskStore

/// Runs `body` against a fresh SQLite store in a temporary folder, then closes and removes it.
public func withTemporaryStore(_ body: (SQLiteStore) async throws -> Void) async throws {
    let folder = try TemporaryDirectory()
    defer { folder.remove() }
    let store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
    try await body(store)
    try await store.close()
}
