import Foundation
import HelpdeskIncidents
import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// The store, its log and the incident bundles hold the audit log, approvals and what tools read:
/// created owner-only whatever the umask, the way backups are.
@Suite struct StoreFileModeTests {
    private func mode(_ path: String) throws -> Int? {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
    }

    @Test func aNewStoreAndItsFolderAreOwnerOnly() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("state/helpdesk/helpdesk.sqlite")
        let store = try SQLiteStore(options: .init(path: path))
        _ = try await store.apply(ChangeSet(jobs: [NewJob(kind: "k", payload: "{}")]))
        #expect(try mode(folder.file("state/helpdesk")) == 0o700)
        #expect(try mode(path) == 0o600)
        // SQLite creates its log and index with the main file's mode; both exist while the store is open.
        #expect(try mode(path + "-wal") == 0o600)
        #expect(try mode(path + "-shm") == 0o600)
        try await store.close()
    }

    @Test func anExistingFolderAndFileKeepTheModeTheOperatorGaveThem() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try FileManager.default.setAttributes([.posixPermissions: 0o750], ofItemAtPath: folder.path)
        let path = folder.file("helpdesk.sqlite")
        try await SQLiteStore(options: .init(path: path)).close()
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
        try await SQLiteStore(options: .init(path: path)).close()
        #expect(try mode(folder.path) == 0o750)
        #expect(try mode(path) == 0o640)
    }

    @Test func migrateCreatesAMissingStoreOwnerOnlyToo() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("new/hd.sqlite")
        _ = try SQLiteStore.migrate(path: path)
        #expect(try mode(folder.file("new")) == 0o700)
        #expect(try mode(path) == 0o600)
    }

    @Test func theBundleFolderIsOwnerOnly() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let bundle = IncidentBundle(id: IncidentBundle.newID(), created: Date(), files: [("manifest.json", Data("{}".utf8))])
        let written = try bundle.write(into: folder.file("state/incidents"))
        #expect(try mode(folder.file("state/incidents")) == 0o700)
        #expect(FileManager.default.fileExists(atPath: written.path))
    }
}
