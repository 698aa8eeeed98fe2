import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskTestSupport
import Testing

/// Where the configuration is looked for and the store lives when nothing names a place: the XDG
/// layout from the environment given, never the working directory.
@Suite struct DefaultLocationsTests {
    private let nowhere = "/nonexistent/helpdesk/helpdesk.yaml"

    @Test func homeGivesTheXDGDefaults() {
        let places = DefaultLocations(environment: ["HOME": "/home/ann"])
        #expect(places.userConfigFile == "/home/ann/.config/helpdesk/helpdesk.yaml")
        #expect(places.stateDirectory == "/home/ann/.local/state/helpdesk")
        #expect(places.storePath == "/home/ann/.local/state/helpdesk/helpdesk.sqlite")
    }

    @Test func xdgVariablesWinAndRelativeOnesAreIgnored() {
        let places = DefaultLocations(environment: ["HOME": "/home/ann", "XDG_CONFIG_HOME": "/etc/xdg", "XDG_STATE_HOME": "/var/state/"])
        #expect(places.userConfigFile == "/etc/xdg/helpdesk/helpdesk.yaml")
        #expect(places.storePath == "/var/state/helpdesk/helpdesk.sqlite")
        let relative = DefaultLocations(environment: ["HOME": "/home/ann", "XDG_STATE_HOME": "state", "XDG_CONFIG_HOME": ""])
        #expect(relative.storePath == "/home/ann/.local/state/helpdesk/helpdesk.sqlite")
        #expect(relative.userConfigFile == "/home/ann/.config/helpdesk/helpdesk.yaml")
        #expect(DefaultLocations(environment: ["HOME": "relative"]).storePath == nil)
        #expect(DefaultLocations(environment: [:]) == DefaultLocations(environment: ["PWD": "/somewhere"]))
    }

    @Test func bundlesAndBackupsDefaultBesideTheStore() throws {
        let home = try HelpdeskConfiguration(yaml: "", file: "test.yaml", environment: ["HOME": "/home/ann"])
        #expect(home.diagnosis.bundlesDirectory == "/home/ann/.local/state/helpdesk/incidents")
        let moved = try HelpdeskConfiguration(yaml: "store: {path: /srv/hd/hd.sqlite}\n", file: "test.yaml", environment: ["HOME": "/home/ann"])
        #expect(moved.diagnosis.bundlesDirectory == "/srv/hd/incidents")
        #expect(moved.store.resolvedBackupDirectory == "/srv/hd/backups")
        let relative = try HelpdeskConfiguration(yaml: "store: {path: state/hd.sqlite}\n", file: "test.yaml")
        #expect(relative.store.path == "state/hd.sqlite", "an explicit relative path stays relative to the working directory")
        #expect(relative.diagnosis.bundlesDirectory == "state/incidents")
        let named = try HelpdeskConfiguration(yaml: "diagnosis: {bundles_dir: /srv/bundles}\n", file: "test.yaml", environment: ["HOME": "/h"])
        #expect(named.diagnosis.bundlesDirectory == "/srv/bundles")
    }

    @Test func discoveryPrefersFlagThenEnvironmentThenUserThenSystemFile() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let explicit = try folder.write("explicit.yaml", "server:\n  listen: 127.0.0.1:1001\n")
        let fromEnvironment = try folder.write("env.yaml", "server:\n  listen: 127.0.0.1:1002\n")
        let home = folder.file("home")
        try FileManager.default.createDirectory(atPath: home + "/.config/helpdesk", withIntermediateDirectories: true)
        try folder.write("home/.config/helpdesk/helpdesk.yaml", "server:\n  listen: 127.0.0.1:1003\n")
        let system = try folder.write("system.yaml", "server:\n  listen: 127.0.0.1:1004\n")
        let emptyHome = folder.file("empty-home")

        func port(_ explicitPath: String?, _ environment: [String: String], system: String) throws -> Int {
            try HelpdeskConfiguration.load(explicitPath: explicitPath, environment: environment, systemFile: system).server.listen.port
        }
        #expect(try port(explicit, ["HELPDESK_CONFIG": fromEnvironment, "HOME": home], system: system) == 1001)
        #expect(try port(nil, ["HELPDESK_CONFIG": fromEnvironment, "HOME": home], system: system) == 1002)
        #expect(try port(nil, ["HOME": home], system: system) == 1003)
        #expect(try port(nil, ["HOME": emptyHome], system: system) == 1004)
        let defaults = try HelpdeskConfiguration.load(explicitPath: nil, environment: ["HOME": emptyHome], systemFile: nowhere)
        #expect(defaults.file == nil)
        #expect(defaults.store.path == emptyHome + "/.local/state/helpdesk/helpdesk.sqlite")
        #expect(throws: ConfigError.self) {
            try HelpdeskConfiguration.load(explicitPath: folder.file("missing.yaml"), environment: ["HOME": home])
        }
    }

    @Test func withoutHomeTheStoreMustBeNamed() throws {
        do {
            _ = try HelpdeskConfiguration.load(explicitPath: nil, environment: [:], systemFile: nowhere)
            Issue.record("a store with no location must be refused")
        } catch {
            #expect(error.issues.map(\.keyPath) == ["store.path"])
            #expect(error.issues.first?.message.contains("neither XDG_STATE_HOME nor HOME is set; set store.path") == true)
        }
        let named = try HelpdeskConfiguration.load(explicitPath: nil, environment: ["HELPDESK_STORE_PATH": "/var/lib/helpdesk/hd.sqlite"],
                                                   systemFile: nowhere)
        #expect(named.store.path == "/var/lib/helpdesk/hd.sqlite")
        #expect(named.diagnosis.bundlesDirectory == "/var/lib/helpdesk/incidents")
    }

    @Test func anEmptyStorePathIsRefused() {
        do {
            _ = try HelpdeskConfiguration(yaml: "store: {path: \"\"}\n", file: "test.yaml", environment: ["HOME": "/h"])
            Issue.record("an empty store.path must be refused")
        } catch {
            #expect(error.issues.map(\.keyPath) == ["store.path"])
        }
    }
}

@Suite struct ParentFolderTests {
    @Test(arguments: [("a/b", "a"), ("b", "."), ("/b", "/"), (".", "."), ("..", "."), ("/", "/"), ("a/b/", "a"), ("a//b", "a"), ("", "."),
                      ("/var/lib/hd.sqlite", "/var/lib")])
    func folderOfAPathIsDirname(path: String, folder: String) {
        #expect(parentFolder(of: path) == folder)
    }
}
