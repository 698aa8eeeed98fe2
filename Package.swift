// swift-tools-version:6.2
import PackageDescription

// Strict settings for every target of ours, set once.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// The commit `helpdesk version` reports: HELPDESK_BUILD_COMMIT in the environment of `swift build`
// (scripts/package and CI set it), passed to a one-function C target as defines. Nothing in the
// checkout is rewritten, no plugin runs git, and a build without .git (a source tarball, an image
// build) still works and says "unknown". Only ASCII hex is passed on, so the value cannot inject flags;
// a `-dirty` suffix (scripts/package with HELPDESK_PACKAGE_ALLOW_DIRTY=1) becomes a define of its own.
let buildCommit = Context.environment["HELPDESK_BUILD_COMMIT"].flatMap { value -> (hex: String, dirty: Bool)? in
    let dirty = value.hasSuffix("-dirty")
    let hex = dirty ? String(value.dropLast("-dirty".count)) : value
    guard (7...64).contains(hex.count), hex.allSatisfy({ $0.isASCII && $0.isHexDigit }) else { return nil }
    return (hex.lowercased(), dirty)
}
let buildInfoDefines: [CSetting] = buildCommit.map { commit in
    [CSetting.define("HELPDESK_BUILD_COMMIT", to: commit.hex)] + (commit.dirty ? [CSetting.define("HELPDESK_BUILD_DIRTY")] : [])
} ?? []

let package = Package(
    name: "helpdesk",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "helpdesk", targets: ["helpdesk"]),
    ],
    dependencies: [
        // One trait only: with Hummingbird's default traits SwiftPM passes the defines in a random
        // order and recompiles Hummingbird on every switch between `swift build` and `swift test`.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        // Spans through the libraries; OTel exports them over OTLP/HTTP only (no gRPC: its trait is off).
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        // libargon2 for Argon2id API key hashes (aiHelpDesk's users files): the reference C library,
        // Debian's libargon2-dev to build and libargon2-1 at run time (scripts/install-deps).
        .systemLibrary(
            name: "CArgon2",
            pkgConfig: "libargon2",
            providers: [.apt(["libargon2-dev"]), .brew(["argon2"])]
        ),
        .target(
            name: "HelpdeskCore",
            dependencies: ["CArgon2", .product(name: "Logging", package: "swift-log"),
                           .product(name: "Tracing", package: "swift-distributed-tracing")],
            swiftSettings: strictSettings
        ),
        // Templates, runbooks and policies: the shipped files with configured folders on top.
        .target(
            name: "HelpdeskContent",
            dependencies: ["HelpdeskCore", .product(name: "Mustache", package: "swift-mustache")],
            swiftSettings: strictSettings
        ),
        // The shipped files themselves, compiled in by EmbedContentPlugin so a binary started from any
        // folder has them. Only the executables depend on it: the fuzz build (--sanitize=fuzzer, where
        // libFuzzer owns main) never has to build and run the EmbedContent tool.
        .executableTarget(name: "EmbedContent", swiftSettings: strictSettings),
        .plugin(name: "EmbedContentPlugin", capability: .buildTool(), dependencies: ["EmbedContent"]),
        .target(
            name: "HelpdeskShippedContent",
            dependencies: ["HelpdeskContent"],
            swiftSettings: strictSettings,
            plugins: [.plugin(name: "EmbedContentPlugin")]
        ),
        .target(
            name: "HelpdeskConfig",
            dependencies: [
                "HelpdeskCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "HelpdeskPostgres",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // SQLite settings only its variadic C API takes, applied as the process loads.
        .target(name: "CSQLiteTuning", linkerSettings: [.linkedLibrary("sqlite3")]),
        .target(
            name: "HelpdeskStore",
            dependencies: [
                "HelpdeskCore", "HelpdeskPostgres", "CSQLiteTuning",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API: the checkpointer syncs the database file through SQLite's own handle.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "HelpdeskJobs",
            dependencies: [
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "HelpdeskCore", "HelpdeskStore", "HelpdeskHTTPClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "HelpdeskAgents",
            dependencies: ["HelpdeskCore", "HelpdeskConfig", "HelpdeskStore"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "HelpdeskDatabaseAgent",
            dependencies: [
                "HelpdeskCore", "HelpdeskConfig", "HelpdeskAgents", "HelpdeskPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "HelpdeskKubernetesAgent",
            dependencies: ["HelpdeskCore", "HelpdeskConfig", "HelpdeskAgents"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "HelpdeskAlertmanagerAgent",
            dependencies: ["HelpdeskCore", "HelpdeskConfig", "HelpdeskAgents", "HelpdeskHTTPClient"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "HelpdeskHTTPClient",
            dependencies: [
                "HelpdeskCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "HelpdeskLLM",
            dependencies: ["HelpdeskCore", "HelpdeskAgents", "HelpdeskStore", "HelpdeskHTTPClient"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "HelpdeskSlack",
            dependencies: [
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "HelpdeskCore", "HelpdeskConfig", "HelpdeskStore", "HelpdeskJobs", "HelpdeskAgents", "HelpdeskOrchestrator",
                "HelpdeskGovernance", "HelpdeskHTTPClient", "HelpdeskContent",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "HelpdeskGovernance",
            dependencies: [
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "HelpdeskCore", "HelpdeskConfig", "HelpdeskContent", "HelpdeskAgents", "HelpdeskStore", "HelpdeskJobs",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "HelpdeskAlerts",
            dependencies: [
                "HelpdeskCore", "HelpdeskConfig", "HelpdeskStore", "HelpdeskJobs", "HelpdeskAgents", "HelpdeskOrchestrator", "HelpdeskSlack",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // The web channel's pages without the server: Block Kit and mrkdwn as safe HTML, the feed's
        // threads, the page templates. Pure logic (no Hummingbird), so it is tested without HTTP.
        .target(
            name: "HelpdeskWeb",
            dependencies: [
                "HelpdeskCore", "HelpdeskConfig", "HelpdeskContent", "HelpdeskStore",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        // libcurl for SMTP: curl_easy_setopt is variadic, so a small C shim calls it.
        .target(
            name: "CCurlSMTP",
            linkerSettings: [.linkedLibrary("curl")]
        ),
        .target(
            name: "HelpdeskMail",
            dependencies: [
                "CCurlSMTP", "HelpdeskCore", "HelpdeskConfig", "HelpdeskStore", "HelpdeskJobs", "HelpdeskAgents", "HelpdeskGovernance",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "HelpdeskIncidents",
            dependencies: [
                "HelpdeskCore", "HelpdeskStore",
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "HelpdeskOrchestrator",
            dependencies: [
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "HelpdeskCore", "HelpdeskConfig", "HelpdeskContent", "HelpdeskAgents", "HelpdeskIncidents", "HelpdeskStore", "HelpdeskLLM",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        // secbot and govbot: pure over the store and the governance types; the server renders their messages.
        .target(name: "HelpdeskSecurity",
                dependencies: ["HelpdeskCore", "HelpdeskConfig", "HelpdeskStore", "HelpdeskGovernance", "HelpdeskIncidents", "HelpdeskAgents",
                               .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                swiftSettings: strictSettings),
        .target(
            name: "HelpdeskServer",
            dependencies: [
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "HelpdeskCore", "HelpdeskConfig", "HelpdeskContent", "HelpdeskShippedContent", "HelpdeskStore", "HelpdeskJobs",
                "HelpdeskAgents", "HelpdeskDatabaseAgent", "HelpdeskKubernetesAgent", "HelpdeskOrchestrator", "HelpdeskLLM", "HelpdeskGovernance", "HelpdeskSlack",
                "HelpdeskHTTPClient", "HelpdeskAlerts", "HelpdeskMail", "HelpdeskAlertmanagerAgent", "HelpdeskIncidents", "HelpdeskWeb",
                "HelpdeskSecurity",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // Compiled into the binary, so the document is served whatever the working directory.
            resources: [.embedInCode("openapi.json")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "CHelpdeskBuildInfo",
            cSettings: buildInfoDefines
        ),
        .executableTarget(
            name: "helpdesk",
            dependencies: [
                "HelpdeskPostgres",
                "CHelpdeskBuildInfo", "HelpdeskCore", "HelpdeskConfig", "HelpdeskContent", "HelpdeskShippedContent", "HelpdeskStore",
                "HelpdeskJobs", "HelpdeskServer", "HelpdeskAlerts",
                "HelpdeskAgents", "HelpdeskDatabaseAgent", "HelpdeskKubernetesAgent", "HelpdeskOrchestrator", "HelpdeskIncidents", "HelpdeskLLM", "HelpdeskGovernance", "HelpdeskSlack",
                "HelpdeskMail", "HelpdeskHTTPClient", "HelpdeskSecurity", .product(name: "OTel", package: "swift-otel"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // `helpdesk demo`: its planted sessions, and Ctrl-C trapped before its PostgreSQL starts.
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // Benchmarks: bench/run builds them in release mode and prints their numbers.
        .executableTarget(
            name: "helpdesk-bench-store",
            dependencies: ["HelpdeskStore"],
            path: "bench/StoreWrites",
            swiftSettings: strictSettings
        ),
        // Fakes and helpers shared by every test target.
        .target(
            name: "HelpdeskTestSupport",
            dependencies: ["HelpdeskCore", "HelpdeskStore", "HelpdeskJobs", "HelpdeskAgents", "HelpdeskLLM", "HelpdeskPostgres", .product(name: "Logging", package: "swift-log")],
            path: "Tests/HelpdeskTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "HelpdeskTests",
            dependencies: [
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                "HelpdeskCore", "HelpdeskConfig", "HelpdeskStore", "HelpdeskJobs", "HelpdeskServer", "HelpdeskTestSupport",
                "HelpdeskAgents", "HelpdeskDatabaseAgent", "HelpdeskKubernetesAgent", "HelpdeskOrchestrator", "HelpdeskIncidents", "HelpdeskLLM", "HelpdeskGovernance", "HelpdeskSlack", "HelpdeskAlerts", "HelpdeskHTTPClient",
                "HelpdeskMail", "HelpdeskAlertmanagerAgent", "HelpdeskContent", "HelpdeskShippedContent", "HelpdeskPostgres", "HelpdeskWeb",
                "HelpdeskSecurity",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)

// libFuzzer harness (scripts/fuzz), declared only when HELPDESK_FUZZ=1 so `swift build` and the tests
// never build it. SwiftPM compiles an executable as a library under --sanitize=fuzzer: libFuzzer owns main.
if Context.environment["HELPDESK_FUZZ"] == "1" {
    package.products.append(.executable(name: "helpdesk-fuzz", targets: ["helpdesk-fuzz"]))
    package.targets.append(.executableTarget(
        name: "helpdesk-fuzz",
        dependencies: [
            "HelpdeskCore", "HelpdeskConfig", "HelpdeskGovernance", "HelpdeskOrchestrator", "HelpdeskSlack",
            "HelpdeskAlerts", "HelpdeskMail",
            .product(name: "Crypto", package: "swift-crypto"),
        ],
        path: "Fuzz/Sources",
        swiftSettings: strictSettings
    ))
}
