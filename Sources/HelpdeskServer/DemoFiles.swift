import Foundation
import HelpdeskConfig
import HelpdeskCore

/// The throwaway configuration `helpdesk demo` runs on, as the files an operator would write: the
/// configuration, a users file and a policy file, loaded by the same loader as `helpdesk serve`'s.
///
/// Three people (`oncall`, `dba1`, `dba2`) share one demo password; reads are open to them and to the
/// alert bot; `terminate_backend` on `demo-db` needs two approvals from the `dba` role (the requester
/// can never approve their own request: the gate's rule). Alertmanager posts to the open receiver
/// `demo`. Every file is written mode 0600 inside the demo's private folder.
///
/// ```swift
/// let files = DemoFiles(folder: dir, listen: address, postgresSocketDirectory: dir + "/pg", postgresPort: 5432,
///                       passwordHash: Argon2idHash.make(secret: Array(password.utf8)))
/// try files.write()
/// let configuration = try HelpdeskConfiguration(contentsOf: files.configurationPath)
/// ```
public struct DemoFiles: Sendable {
    /// The inventory name of the demo's database.
    public static let databaseID = "demo-db"
    /// The Alertmanager receiver the demo posts its alert as.
    public static let receiver = "demo"
    /// The people of the story and their role.
    public static let people: [(name: String, role: String)] = [("oncall", "oncall"), ("dba1", "dba"), ("dba2", "dba")]
    /// The database role the bot's tools connect as: it reads every session (pg_monitor) and may end
    /// other roles' sessions (pg_signal_backend), and nothing more.
    public static let botRole = "helpdesk"

    public var folder: String
    public var listen: ListenAddress
    public var postgresSocketDirectory: String
    public var postgresPort: Int
    /// One Argon2id PHC string for the three people: they share the demo password.
    public var passwordHash: String
    public var sessionKey: String
    public var auditKey: String

    public init(folder: String, listen: ListenAddress, postgresSocketDirectory: String, postgresPort: Int, passwordHash: String,
                sessionKey: String = randomToken(length: 48), auditKey: String = randomToken(length: 48)) {
        self.folder = folder
        self.listen = listen
        self.postgresSocketDirectory = postgresSocketDirectory
        self.postgresPort = postgresPort
        self.passwordHash = passwordHash
        self.sessionKey = sessionKey
        self.auditKey = auditKey
    }

    public var configurationPath: String { path("helpdesk.yaml") }

    /// Every file, by path, with its contents.
    public var files: [(path: String, contents: String)] {
        [(configurationPath, configuration), (path("users.yaml"), users), (path("policies.yaml"), Self.policies),
         (path("web-session-key"), sessionKey + "\n"), (path("audit-key"), auditKey + "\n")]
    }

    /// Writes every file, readable by this user only.
    public func write() throws {
        for (path, contents) in files {
            guard FileManager.default.createFile(atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
            }
        }
    }

    /// The libpq connection string of `demo-db` for the bot's tools (trust on the Unix socket: no password).
    public var connectionString: String {
        "host=\(Self.libpqQuoted(postgresSocketDirectory)) port=\(postgresPort) dbname=shop user=\(Self.botRole) sslmode=disable"
    }

    var configuration: String {
        let quoted = { (path: String) in JSONValue.stringLiteral(path) }
        return """
            # helpdesk demo: a throwaway configuration, deleted with its folder when the demo ends.
            server:
              listen: \(quoted(listen.description))
            store:
              driver: sqlite
              path: \(quoted(path("helpdesk.sqlite")))
            logging:
              level: warning                # the demo prints its story on standard output
            alertmanager:
              diagnosis_delay: 1s
              receivers:
                \(Self.receiver):
                  auth: none                # the demo posts its own alert, on loopback
            infrastructure:
              db_servers:
                \(Self.databaseID):
                  name: The demo's shop database (a throwaway PostgreSQL)
                  connection_string: \(quoted(connectionString))
                  tags: [demo]
            users:
              file: \(quoted(path("users.yaml")))
            policies:
              file: \(quoted(path("policies.yaml")))
            audit:
              key_file: \(quoted(path("audit-key")))
            web:
              enabled: true
              session_key_file: \(quoted(path("web-session-key")))

            """
    }

    var users: String {
        var lines = ["# helpdesk demo: the people of the story; they share the password the demo prints.", "version: \"1\"", "users:"]
        for person in Self.people {
            lines += ["  - id: \(person.name)", "    roles: [\(person.role)]",
                      "    password_argon2id: \(JSONValue.stringLiteral(passwordHash))"]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static let policies = """
        # helpdesk demo: who may do what to the demo's database.
        version: "1"
        policies:
          - name: demo-end-session
            description: Ending a session on demo-db takes two DBAs' approvals; whoever asks cannot approve
            priority: 200
            principals: [{role: oncall}, {role: dba}]
            resources:
              - type: database
                match: {name: \(databaseID), tool: terminate_backend}
            rules:
              - action: destructive
                effect: require_approval
                conditions:
                  approval_quorum: 2
                  approvers: ["role:dba"]
                  approval_ttl: 60m
          - name: demo-changes
            description: Other changes to demo-db (cancel_query) take one DBA's approval
            priority: 100
            principals: [{role: oncall}, {role: dba}]
            resources:
              - type: database
                match: {name: \(databaseID)}
            rules:
              - action: write
                effect: require_approval
                conditions:
                  approval_quorum: 1
                  approvers: ["role:dba"]
                  approval_ttl: 60m
          - name: demo-reads
            description: Reads, for the people of the demo and the alert bot
            priority: 50
            principals: [{role: oncall}, {role: dba}, {service: srebot}]
            rules:
              - action: read
                effect: allow

        """

    private func path(_ name: String) -> String {
        (folder as NSString).appendingPathComponent(name)
    }

    /// A libpq keyword value in single quotes, so a folder with spaces or quotes stays one value.
    static func libpqQuoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
