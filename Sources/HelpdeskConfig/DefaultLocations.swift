import Foundation

/// Where helpdesk looks for its configuration and keeps its state when nothing names a place: the
/// XDG base-directory layout, never the working directory. Computed from the environment handed to
/// ``HelpdeskConfiguration/load(explicitPath:environment:systemFile:)``, so tests choose `HOME`.
///
/// ```swift
/// let places = DefaultLocations(environment: ["HOME": "/home/ann"])
/// places.userConfigFile   // "/home/ann/.config/helpdesk/helpdesk.yaml"
/// places.stateDirectory   // "/home/ann/.local/state/helpdesk"
/// ```
public struct DefaultLocations: Sendable, Equatable {
    /// Looked for after the user's file: where packages and images install one.
    public static let systemConfigFile = "/etc/helpdesk/helpdesk.yaml"

    /// `$XDG_CONFIG_HOME/helpdesk/helpdesk.yaml`, else `~/.config/helpdesk/helpdesk.yaml`.
    public var userConfigFile: String?
    /// `$XDG_STATE_HOME/helpdesk`, else `~/.local/state/helpdesk`: the default store's folder.
    /// `nil` when neither variable is set, so `store.path` has to be.
    public var stateDirectory: String?

    public init(environment: [String: String]) {
        let home = Self.absolute(environment["HOME"])
        let configHome = Self.absolute(environment["XDG_CONFIG_HOME"]) ?? home.map { Self.join($0, ".config") }
        let stateHome = Self.absolute(environment["XDG_STATE_HOME"]) ?? home.map { Self.join($0, ".local/state") }
        userConfigFile = configHome.map { Self.join($0, "helpdesk/helpdesk.yaml") }
        stateDirectory = stateHome.map { Self.join($0, "helpdesk") }
    }

    /// The store file when `store.path` is not set.
    public var storePath: String? { stateDirectory.map { Self.join($0, "helpdesk.sqlite") } }

    /// The specification ignores relative values; taking one would make the working directory matter.
    private static func absolute(_ value: String?) -> String? {
        guard let value, value.hasPrefix("/") else { return nil }
        return value
    }

    private static func join(_ folder: String, _ name: String) -> String {
        (folder as NSString).appendingPathComponent(name)
    }
}
