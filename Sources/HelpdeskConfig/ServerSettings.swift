import Foundation
import HelpdeskCore
import Logging

/// An address to listen on, written `HOST:PORT` (`[::1]:8080` for IPv6).
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(parsing text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace), let port = Int(portText), (0...65535).contains(port) else { return nil }
        self.init(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// `server:` — the HTTP listener.
public struct ServerSettings: Sendable {
    public var listen = ListenAddress(host: "127.0.0.1", port: 8080)
    /// The URL people and peers reach this server at (approval links, Slack request URLs).
    public var publicBaseURL: URL?
    /// Request bodies larger than this get 413.
    public var maxBodyBytes = 1_048_576
    /// How long a shutdown waits for running jobs before giving their leases back.
    public var shutdownGrace: Duration = .seconds(10)
    /// A total deadline for reading one request, head and body together, however slowly it arrives.
    public var requestReadTimeout: Duration = .seconds(30)
    /// A connection with no request in flight is closed after this long.
    public var idleTimeout: Duration = .seconds(60)
    /// Connections accepted at once per listener; more wait in the kernel's backlog.
    public var maxConnections = 1024
    /// Where `/metrics`, `/readyz` and the REST API are served instead of `listen`, when set.
    public var adminListen: ListenAddress?
    /// TLS on the listeners, for single-machine installs; reloaded when the files change.
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?
    /// Calls a minute one address may make to the routes that need no credential.
    public var unauthenticatedPerMinute = 60
    /// Failed credentials a minute one address may present before it gets 429 everywhere.
    public var failedAuthPerMinute = 20
    /// Reverse proxies whose `X-Forwarded-For` names the caller for rate limits.
    public var trustedProxies = TrustedProxies()

    public init() {}

    init(_ section: ConfigSection) {
        if let text = section.optionalString("listen") {
            if let address = ListenAddress(parsing: text) { listen = address } else { section.report("listen", "expected HOST:PORT such as 127.0.0.1:8080, got \"\(text)\"") }
        }
        publicBaseURL = section.url("public_base_url", schemes: ["http", "https"])
        maxBodyBytes = section.int("max_body_bytes", default: maxBodyBytes, range: 1024...(64 * 1_048_576))
        shutdownGrace = section.duration("shutdown_grace", default: shutdownGrace, range: .zero ... .seconds(600))
        requestReadTimeout = section.duration("request_read_timeout", default: requestReadTimeout, range: .seconds(1) ... .seconds(3600))
        idleTimeout = section.duration("idle_timeout", default: idleTimeout, range: .seconds(1) ... .seconds(3600))
        maxConnections = section.int("max_connections", default: maxConnections, range: 1...1_000_000)
        if let text = section.optionalString("admin_listen") {
            if let address = ListenAddress(parsing: text) { adminListen = address } else {
                section.report("admin_listen", "expected HOST:PORT such as 127.0.0.1:9090, got \"\(text)\"")
            }
        }
        tlsCertificateFile = section.optionalString("tls_cert_file")
        tlsKeyFile = section.optionalString("tls_key_file")
        if (tlsCertificateFile == nil) != (tlsKeyFile == nil) {
            section.report(tlsCertificateFile == nil ? "tls_key_file" : "tls_cert_file", "TLS needs both tls_cert_file and tls_key_file")
        }
        unauthenticatedPerMinute = section.int("unauthenticated_per_minute", default: unauthenticatedPerMinute, range: 1...1_000_000)
        failedAuthPerMinute = section.int("failed_auth_per_minute", default: failedAuthPerMinute, range: 1...1_000_000)
        var ranges: [TrustedProxies.Range] = []
        for text in section.stringList("trusted_proxies") {
            if let range = TrustedProxies.range(text) { ranges.append(range) } else {
                section.report("trusted_proxies", "expected addresses or CIDR ranges such as 10.0.0.0/8, got \"\(text)\"")
            }
        }
        trustedProxies = TrustedProxies(ranges: ranges)
        section.finish()
    }
}

/// `store:` — where durable state lives.
public struct StoreSettings: Sendable {
    public enum Driver: String, Sendable, CaseIterable {
        case sqlite
        case postgres
    }

    public var driver = Driver.sqlite
    /// The SQLite file; it and its folder are created owner-only when missing. Default:
    /// ``DefaultLocations/storePath`` (`~/.local/state/helpdesk/helpdesk.sqlite`); empty when the
    /// environment gives no default and none was set, which ``HelpdeskConfiguration/load(explicitPath:environment:systemFile:)``
    /// refuses. A relative path is taken from the working directory.
    public var path = ""
    /// How long a write waits for another process holding the SQLite lock (the CLI, a second server).
    public var busyTimeout: Duration = .seconds(5)
    /// Whether opening the store applies pending migrations. When false, a store behind this binary is
    /// refused until `helpdesk migrate` has run, so an operator decides when the schema changes.
    public var migrateOnStart = true
    /// How often the server backs the store up itself; `nil` (`off`, the default) for never.
    public var backupSchedule: Duration?
    /// Where scheduled backups go; `nil` means a `backups` folder beside the store file (same volume).
    public var backupDirectory: String?
    /// Scheduled backups kept; the oldest beyond this are deleted after each new one.
    public var backupKeep = 7
    /// `store.url` for PostgreSQL (`postgres://user@host:port/db?sslmode=verify-full`): several replicas
    /// share it. A secret, since it may carry a password (better in `PGPASSWORD` or `.pgpass`).
    public var postgresURL: Secret?
    /// PostgreSQL connections one replica keeps at most (`store.max_connections`); replicas × this + 1
    /// each must stay under the server's max_connections.
    public var maxConnections = 10

    public init() {}

    /// The SQLite file, or `nil` for PostgreSQL: what files beside the store (checkpoints) hang off.
    public var localFilePath: String? { driver == .sqlite ? path : nil }

    /// Where the store is, for messages: the SQLite file, or the database without its password.
    public var displayLocation: String {
        guard driver == .postgres, let url = postgresURL?.reveal() else { return path }
        guard var components = URLComponents(string: url) else { return "postgres://…" }
        if components.password != nil { components.password = "<redacted>" }
        components.query = nil
        return components.string ?? "postgres://…"
    }

    /// The folder scheduled backups go to, and `helpdesk backup` without a file.
    public var resolvedBackupDirectory: String {
        backupDirectory ?? besideStore("backups")
    }

    /// Where incident bundles go when `diagnosis.bundles_dir` is not set: beside the store, as backups are.
    public var defaultBundlesDirectory: String {
        path.isEmpty ? "" : besideStore("incidents")
    }

    private func besideStore(_ name: String) -> String {
        filePath(name, in: parentFolder(of: path))
    }

    init(_ section: ConfigSection, defaultPath: String?) {
        driver = section.choice("driver", default: driver)
        let url = section.optionalString("url")
        let urlFile = section.optionalString("url_file")
        var urlText = url
        if url != nil, urlFile != nil {
            section.report("url_file", "set store.url or store.url_file, not both")
        } else if let urlFile {
            do {
                let text = try String(contentsOfFile: urlFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                if text.isEmpty { section.report("url_file", "the file \(urlFile) is empty") } else { urlText = text }
            } catch {
                section.report("url_file", "cannot read \(urlFile): \(describeFileError(error))")
            }
        }
        if let urlText {
            if urlText.hasPrefix("sqlite:") {
                let file = String(urlText.dropFirst("sqlite:".count))
                if file.isEmpty { section.report("url", "expected sqlite:PATH with a file path") }
                if section.optionalString("path") != nil { section.report("url", "set store.url or store.path, not both") }
                driver = .sqlite
                path = file
            } else if urlText.hasPrefix("postgres://") || urlText.hasPrefix("postgresql://") {
                driver = .postgres
                let secret = section.registerSecret(urlText)
                if let password = URLComponents(string: urlText)?.password, !password.isEmpty { _ = section.registerSecret(password) }
                postgresURL = secret
            } else {
                section.report(url == nil ? "url_file" : "url",
                               "expected postgres://USER@HOST:PORT/DATABASE or sqlite:PATH (the value is not shown: it may hold a password)")
            }
        } else if driver == .postgres {
            section.report("url", "required with driver postgres: postgres://USER@HOST:PORT/DATABASE (or HELPDESK_STORE_URL, or store.url_file)")
        }
        if driver == .sqlite, urlText?.hasPrefix("sqlite:") == true {
            // store.url named the file
        } else if let given = section.optionalString("path") {
            path = given
            if given.isEmpty { section.report("path", "expected a file path, got an empty string") }
        } else {
            path = defaultPath ?? ""
        }
        if let text = section.optionalString("backup_schedule"), !["off", "false", "never"].contains(text.lowercased()) {
            // More often than once a minute would be a backup loop, not a schedule.
            if let interval = Duration(parsing: text), (Duration.seconds(60) ... .seconds(30 * 86400)).contains(interval) {
                backupSchedule = interval
            } else {
                section.report("backup_schedule", "expected off or an interval like 6h or 1d, from 1m to 30d, got \"\(text)\"")
            }
        }
        backupDirectory = section.optionalString("backup_dir")
        if backupDirectory?.isEmpty == true {
            section.report("backup_dir", "expected a folder path, got an empty string")
            backupDirectory = nil
        }
        maxConnections = section.int("max_connections", default: maxConnections, range: 2 ... 200)
        busyTimeout = section.duration("busy_timeout", default: busyTimeout, range: .zero ... .seconds(300))
        migrateOnStart = section.bool("migrate_on_start", default: migrateOnStart)
        backupKeep = section.int("backup_keep", default: backupKeep, range: 1 ... 10_000)
        section.finish()
    }
}

/// `jobs:` — the durable job queue's workers.
public struct JobSettings: Sendable {
    /// Jobs run at once by one process.
    public var concurrency = 4
    /// How long a worker owns a job before another process may take it up (renewed while it runs).
    public var lease: Duration = .seconds(60)
    /// Attempts before a job is dead-lettered.
    public var maxAttempts = 8
    /// First retry delay; doubles each attempt up to ``backoffMax``.
    public var backoffBase: Duration = .seconds(2)
    public var backoffMax: Duration = .seconds(300)
    /// How often an idle worker looks for jobs written by other processes.
    public var pollInterval: Duration = .milliseconds(250)
    /// A single attempt running longer than this is cancelled and counts as failed.
    public var timeout: Duration = .seconds(300)

    public init() {}

    init(_ section: ConfigSection) {
        concurrency = section.int("concurrency", default: concurrency, range: 1...256)
        lease = section.duration("lease", default: lease, range: .seconds(1) ... .seconds(3600))
        maxAttempts = section.int("max_attempts", default: maxAttempts, range: 1...100)
        backoffBase = section.duration("backoff_base", default: backoffBase, range: .milliseconds(1) ... .seconds(3600))
        backoffMax = section.duration("backoff_max", default: backoffMax, range: .milliseconds(1) ... .seconds(86400))
        pollInterval = section.duration("poll_interval", default: pollInterval, range: .milliseconds(10) ... .seconds(60))
        timeout = section.duration("timeout", default: timeout, range: .seconds(1) ... .seconds(86400))
        if backoffMax < backoffBase { section.report("backoff_max", "must not be shorter than jobs.backoff_base") }
        section.finish()
    }
}

/// `logging:` — format and level; `--log-format` and `--log-level` override both.
public struct LoggingSettings: Sendable {
    public enum Level: String, Sendable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical

        public var swiftLogLevel: Logger.Level { Logger.Level(rawValue: rawValue)! }
    }

    public var format = LogFormat.human
    public var level = Level.info
    /// Whether the file or environment chose the level (one-shot commands default to quieter).
    public var levelIsSet = false

    public init() {}

    init(_ section: ConfigSection) {
        format = section.choice("format", default: format)
        let chosen: Level? = section.optionalChoice("level")
        level = chosen ?? level
        levelIsSet = chosen != nil
        section.finish()
    }
}
