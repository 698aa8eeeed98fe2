import Foundation
import HelpdeskDatabaseAgent
import HelpdeskPostgres
import HelpdeskTestSupport
import Testing

@Suite struct PostgresConnectionStringTests {
    @Test func keywordValueFormWithQuotesAndEscapes() throws {
        let spec = try PostgresConnectionString(parsing: #"host=db.example.org port=6432 dbname='my db' user=app password='it\'s' sslmode=require application_name=hd"#)
        #expect(spec.host == "db.example.org")
        #expect(spec.port == 6432)
        #expect(spec.database == "my db")
        #expect(spec.user == "app")
        #expect(spec.password == "it's")
        #expect(spec.sslMode == .require)
        #expect(spec.applicationName == "hd")
    }

    @Test func urlForm() throws {
        let spec = try PostgresConnectionString(parsing: "postgres://app:s3cret@db:5433/orders?sslmode=verify-full&connect_timeout=3")
        #expect(spec.host == "db")
        #expect(spec.port == 5433)
        #expect(spec.user == "app")
        #expect(spec.password == "s3cret")
        #expect(spec.database == "orders")
        #expect(spec.sslMode == .verifyFull)
        #expect(spec.connectTimeout == .seconds(3))
    }

    @Test func defaultsAndSocketDirectories() throws {
        let spec = try PostgresConnectionString(parsing: "host=/var/run/postgresql user=postgres")
        #expect(spec.port == 5432)
        #expect(spec.sslMode == .prefer)
        #expect(spec.unixSocketPath == "/var/run/postgresql/.s.PGSQL.5432")
    }

    @Test(arguments: [
        ("host=db port=99999", "port must be 1-65535"),
        ("host=db sslmode=sometimes", "sslmode must be one of"),
        ("host=db dbnmae=x", "unknown connection parameter \"dbnmae\""),
        ("host=db user", "without \"=\""),
        ("host='db", "unterminated quoted value"),
    ])
    func badStringsSayWhatIsWrong(text: String, expected: String) {
        #expect {
            try PostgresConnectionString(parsing: text)
        } throws: { error in
            "\(error)".contains(expected)
        }
    }
}

@Suite struct PGPassFileTests {
    let file = PGPassFile(contents: """
        # comment
        db.example.org:5432:orders:app:first
        *:*:*:app:wild\\:card
        localhost:5432:*:postgres:local
        """)

    @Test func firstMatchingLineWins() {
        #expect(file.password(host: "db.example.org", port: 5432, database: "orders", user: "app") == "first")
        #expect(file.password(host: "other", port: 6000, database: "x", user: "app") == "wild:card")
        #expect(file.password(host: "/tmp", port: 5432, database: "x", user: "postgres") == "local")
        #expect(file.password(host: "other", port: 5432, database: "x", user: "nobody") == nil)
    }

    @Test func fileReadableByOthersIsRefused() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = try folder.write("pgpass", "*:*:*:*:pw\n")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        #expect(throws: PGPassError.self) { try PGPassFile(path: path) }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        #expect(try PGPassFile(path: path)?.password(host: "h", port: 1, database: "d", user: "u") == "pw")
        #expect(try PGPassFile(path: folder.file("absent")) == nil)
    }
}
