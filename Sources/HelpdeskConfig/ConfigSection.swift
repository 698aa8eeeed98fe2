import Foundation
import HelpdeskCore
import Yams

/// Where values come from while one configuration is read, and the problems found so far.
///
/// A file the configuration names (an aiHelpDesk inventory or users file) is read with a child
/// context: its problems name that file, and land in the same lists as the configuration's own.
final class ConfigReadContext {
    let file: String
    let environment: [String: String]
    private let parent: ConfigReadContext?
    private var ownIssues: [ConfigIssue] = []
    private var ownWarnings: [ConfigIssue] = []
    private var ownSecrets: [Secret] = []

    init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
        self.parent = nil
    }

    private init(file: String, parent: ConfigReadContext) {
        self.file = file
        self.environment = parent.environment
        self.parent = parent
    }

    /// A context for another file, reporting into this one.
    func child(file: String) -> ConfigReadContext {
        ConfigReadContext(file: file, parent: root)
    }

    private var root: ConfigReadContext { parent?.root ?? self }

    /// Only the configuration's own sections take `HELPDESK_<SECTION>_<KEY>` overrides, not files it names.
    var readsEnvironmentOverrides: Bool { parent == nil }

    var issues: [ConfigIssue] { root.ownIssues }
    var warnings: [ConfigIssue] { root.ownWarnings }
    var secrets: [Secret] {
        get { root.ownSecrets }
        set { root.ownSecrets = newValue }
    }

    func report(_ path: [String], _ mark: Mark?, _ message: String) {
        root.ownIssues.append(ConfigIssue(source: file, line: mark?.line, keyPath: path.joined(separator: "."), message: message))
    }

    /// Something that does not stop the server but that an operator should read (`config check`
    /// prints it; `serve` logs it at start).
    func warn(_ path: [String], _ mark: Mark?, _ message: String) {
        root.ownWarnings.append(ConfigIssue(source: file, line: mark?.line, keyPath: path.joined(separator: "."), message: message))
    }

    func warnEnvironment(_ variable: String, _ path: [String], _ message: String) {
        root.ownWarnings.append(ConfigIssue(source: "environment \(variable)", line: nil, keyPath: path.joined(separator: "."), message: message))
    }

    func reportEnvironment(_ variable: String, _ path: [String], _ message: String) {
        root.ownIssues.append(ConfigIssue(source: "environment \(variable)", line: nil, keyPath: path.joined(separator: "."), message: message))
    }
}

/// A typed, strict reader over one YAML mapping of the configuration.
///
/// Each getter records the key as known; ``finish()`` reports every key nobody asked for, so a typo
/// is an error rather than a silently ignored setting. Top-level scalars of a section may be
/// overridden from the environment as `HELPDESK_<SECTION>_<KEY>` (the environment wins).
final class ConfigSection {
    let path: [String]
    private let context: ConfigReadContext
    private let pairs: [(key: String, value: Node, mark: Mark?)]
    private let mark: Mark?
    private var known: Set<String> = []
    /// Keys marked as comments: accepted, but not offered as expected keys in messages.
    private var ignored: Set<String> = []
    /// Secret keys mapped to where the value should come from, for a precise "unknown key" message.
    private var secretHints: [String: String] = [:]

    init(context: ConfigReadContext, path: [String], node: Node?) {
        self.context = context
        self.path = path
        self.mark = node?.mark
        switch node {
        case .mapping(let mapping)?:
            var pairs: [(String, Node, Mark?)] = []
            for (key, value) in mapping {
                guard let name = key.scalar?.string else {
                    context.report(path, key.mark, "keys must be plain strings")
                    continue
                }
                pairs.append((name, value, key.mark))
            }
            self.pairs = pairs
        case nil:
            self.pairs = []
        case .scalar(let scalar)? where scalar.string.isEmpty || scalar.tag.rawValue == Tag.Name.null.rawValue:
            self.pairs = []  // `section:` with nothing under it
        case let other?:
            context.report(path, other.mark, "expected a mapping of keys, got \(Self.kind(of: other))")
            self.pairs = []
        }
    }

    var isEmpty: Bool { pairs.isEmpty }

    // MARK: Scalars

    func string(_ key: String, default defaultValue: String) -> String {
        optionalString(key) ?? defaultValue
    }

    func optionalString(_ key: String) -> String? {
        scalar(key, expected: "a string") { Optional($0) }
    }

    func int(_ key: String, default defaultValue: Int, range: ClosedRange<Int>) -> Int {
        scalar(key, expected: "a whole number from \(range.lowerBound) to \(range.upperBound)") { text in
            Int(text).flatMap { range.contains($0) ? $0 : nil }
        } ?? defaultValue
    }

    func bool(_ key: String, default defaultValue: Bool) -> Bool {
        scalar(key, expected: "true or false") { text in
            switch text.lowercased() {
            case "true": true
            case "false": false
            default: nil
            }
        } ?? defaultValue
    }

    /// A duration written as `500ms`, `30s`, `5m`, `2h` or `1d`; a bare number means seconds.
    func duration(_ key: String, default defaultValue: Duration, range: ClosedRange<Duration>) -> Duration {
        let expected = "a duration like 500ms, 30s, 5m or 2h, from \(range.lowerBound.compactText) to \(range.upperBound.compactText)"
        return scalar(key, expected: expected) { text in
            Duration(parsing: text).flatMap { range.contains($0) ? $0 : nil }
        } ?? defaultValue
    }

    func choice<Value: RawRepresentable & CaseIterable>(_ key: String, default defaultValue: Value) -> Value where Value.RawValue == String {
        optionalChoice(key) ?? defaultValue
    }

    func optionalChoice<Value: RawRepresentable & CaseIterable>(_ key: String) -> Value? where Value.RawValue == String {
        let names = Value.allCases.map(\.rawValue).joined(separator: ", ")
        return scalar(key, expected: "one of: \(names)") { Value(rawValue: $0) }
    }

    /// An absolute URL whose scheme is one of `schemes`.
    func url(_ key: String, schemes: Set<String>) -> URL? {
        let list = schemes.sorted().map { "\($0)://" }.joined(separator: " or ")
        return scalar(key, expected: "an absolute URL starting with \(list)") { text in
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), schemes.contains(scheme),
                  let host = url.host, !host.isEmpty
            else { return nil }
            return url
        }
    }

    /// An optional folder that overrides content shipped in the binary. It must exist when given:
    /// a typo would otherwise leave the built-in files in force without a word. Empty means none.
    func folder(_ key: String, overriding what: String) -> String? {
        guard let path = optionalString(key), !path.isEmpty else { return nil }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            report(key, "no such folder \(path) (it overrides \(what)); create it, or remove the key to use the built-in ones")
            return nil
        }
        return path
    }

    func stringList(_ key: String) -> [String] {
        known.insert(key)
        guard let (value, _) = entry(key) else { return [] }
        guard case .sequence(let sequence) = value else {
            context.report(path + [key], value.mark, "expected a list of strings, got \(Self.kind(of: value))")
            return []
        }
        return sequence.compactMap { item in
            guard case .scalar(let scalar) = item else {
                context.report(path + [key], item.mark, "expected a list of strings, found \(Self.kind(of: item)) in it")
                return nil
            }
            return scalar.string
        }
    }

    // MARK: Nesting

    func section(_ key: String) -> ConfigSection {
        known.insert(key)
        return ConfigSection(context: context, path: path + [key], node: entry(key)?.value)
    }

    /// A mapping of names to sections, such as `db_servers: {prod-db: {...}}`, in file order.
    func namedSections(_ key: String) -> [(name: String, section: ConfigSection)] {
        let container = section(key)
        return container.pairs.map { pair in
            container.known.insert(pair.key)
            return (pair.key, ConfigSection(context: context, path: container.path + [pair.key], node: pair.value))
        }
    }

    /// A list of mappings, such as aiHelpDesk's `users: [{id: …}, …]`: each item a section whose
    /// problems name it `users[2]` (zero-based, as the file's readers count).
    func sections(_ key: String) -> [(index: Int, section: ConfigSection)] {
        known.insert(key)
        guard let (value, mark) = entry(key) else { return [] }
        switch value {
        case .sequence(let sequence):
            return sequence.enumerated().compactMap { index, item in
                // Reports an item that is not a mapping; nothing more is read in one (an empty item is read, as empty).
                let section = ConfigSection(context: context, path: path + ["\(key)[\(index)]"], node: item)
                switch item {
                case .mapping: return (index, section)
                case .scalar(let scalar) where scalar.string.isEmpty || scalar.tag.rawValue == Tag.Name.null.rawValue: return (index, section)
                default: return nil
                }
            }
        case .scalar(let scalar) where scalar.string.isEmpty || scalar.tag.rawValue == Tag.Name.null.rawValue:
            return []  // `users:` with nothing under it
        default:
            context.report(path + [key], mark, "expected a list of mappings, got \(Self.kind(of: value))")
            return []
        }
    }

    /// Every key of this mapping with its value as a string (for free-form maps such as label matchers).
    func stringPairs() -> [(String, String)] {
        pairs.compactMap { pair in
            known.insert(pair.key)
            guard case .scalar(let scalar) = pair.value else {
                context.report(path + [pair.key], pair.mark, "expected a string value")
                return nil
            }
            return (pair.key, scalar.string)
        }
    }

    // MARK: Secrets

    /// A secret read from the environment variable `environmentName`, else from the file named by
    /// `<key>_file`. Secrets are never read inline from the configuration file.
    func secret(_ key: String, environment environmentName: String) -> Secret? {
        let fileKey = key + "_file"
        secretHints[key] = "secrets are not read from the configuration file; set \(environmentName) or \((path + [fileKey]).joined(separator: "."))"
        let filePath = optionalString(fileKey)
        if let value = context.environment[environmentName], !value.isEmpty {
            let secret = Secret(value)
            context.secrets.append(secret)
            return secret
        }
        guard let filePath else { return nil }
        do {
            var value = try String(contentsOfFile: filePath, encoding: .utf8)
            while value.last?.isNewline == true { value.removeLast() }  // files written by echo or editors end in a newline
            guard !value.trimmingCharacters(in: .whitespaces).isEmpty else {
                context.report(path + [fileKey], markOf(fileKey), "the secret file \(filePath) is empty")
                return nil
            }
            let secret = Secret(value)
            context.secrets.append(secret)
            return secret
        } catch {
            context.report(path + [fileKey], markOf(fileKey), "cannot read the secret file \(filePath): \(describeFileError(error))")
            return nil
        }
    }

    /// Records a secret that came from elsewhere in the environment, so logs mask it too.
    func registerSecret(_ value: String) -> Secret {
        let secret = Secret(value)
        context.secrets.append(secret)
        return secret
    }

    // MARK: Checks

    /// Reports a problem with a key this section has already read.
    func report(_ key: String, _ message: String) {
        context.report(path + [key], markOf(key) ?? mark, message)
    }

    /// Reports a problem with this section as a whole, at its own line.
    func reportSection(_ message: String) {
        context.report(path, mark, message)
    }

    /// Warns about a key of this section (it is read, or deliberately ignored).
    func warn(_ key: String, _ message: String) {
        known.insert(key)
        context.warn(path + [key], markOf(key) ?? mark, message)
    }

    /// Marks keys as read without a getter: those a foreign format carries as comments (`_comment`).
    func ignore(where predicate: (String) -> Bool) {
        for pair in pairs where predicate(pair.key) { ignored.insert(pair.key) }
    }

    /// The keys present in this mapping, in file order.
    var keys: [String] { pairs.map(\.key) }

    /// Whether `key` is present (whatever its value).
    func contains(_ key: String) -> Bool { entry(key) != nil }

    /// What `key` holds, when present: `users.file: PATH` names a file, `users.file: {roles: …}` is a user.
    func valueKind(_ key: String) -> ValueKind? {
        switch entry(key)?.value {
        case .scalar?: .scalar
        case .mapping?: .mapping
        case .sequence?: .list
        case .alias?: .alias
        case nil: nil
        }
    }

    enum ValueKind {
        case scalar, mapping, list, alias
    }

    /// The `HELPDESK_<SECTION>_<KEY>` override of `key`, when this section takes overrides and it is set:
    /// for a key whose value in the file is not a scalar (a user named `file`) while the environment names one.
    func environmentOverride(_ key: String) -> String? {
        guard path.count == 1, context.readsEnvironmentOverrides else { return nil }
        return context.environment["HELPDESK_\(path[0])_\(key)".uppercased()]
    }

    /// The line `key` is on, for messages that name it.
    func line(of key: String) -> Int? { markOf(key)?.line ?? mark?.line }

    /// A YAML (or JSON, which YAML reads) file the configuration names, read as a section whose
    /// problems name that file; `nil` after reporting at `key` when it cannot be read or parsed.
    func externalFile(_ key: String, path filePath: String, as sectionPath: [String]) -> ConfigSection? {
        let text: String
        do {
            text = try String(contentsOfFile: filePath, encoding: .utf8)
        } catch {
            report(key, "cannot read \(filePath): \(describeFileError(error))")
            return nil
        }
        let child = context.child(file: filePath)
        do {
            let root = try Yams.compose(yaml: text)
            return ConfigSection(context: child, path: sectionPath, node: root)
        } catch let error as YamlError {
            let (problem, mark) = Self.describe(error)
            child.report([], mark, "not valid JSON or YAML: \(problem)")
            return nil
        } catch {
            child.report([], nil, "not valid JSON or YAML: \(error)")
            return nil
        }
    }

    /// A parse error's problem and line, without the lines of the file Yams quotes (a file such as an
    /// inventory may hold a password in a connection string).
    static func describe(_ error: YamlError) -> (problem: String, mark: Mark?) {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return (problem, mark)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return (duplicates.map { "\"\($0)\"" }.joined(separator: ", ") + " appears more than once in one mapping", context.mark)
        case .reader(let problem, _, _, _):
            return (problem, nil)
        default:
            return ("\(error)", nil)
        }
    }

    /// Reports every key in this mapping that no getter asked for.
    func finish() {
        let expected = known.sorted().joined(separator: ", ")
        for pair in pairs where !known.contains(pair.key) && !ignored.contains(pair.key) {
            if let hint = secretHints[pair.key] {
                context.report(path + [pair.key], pair.mark, hint)
            } else {
                context.report(path + [pair.key], pair.mark, "unknown key; expected one of: \(expected)")
            }
        }
    }

    // MARK: Internals

    private func entry(_ key: String) -> (value: Node, mark: Mark?)? {
        pairs.last(where: { $0.key == key }).map { ($0.value, $0.mark) }
    }

    private func markOf(_ key: String) -> Mark? {
        entry(key)?.mark
    }

    private func scalar<Value>(_ key: String, expected: String, parse: (String) -> Value?) -> Value? {
        known.insert(key)
        // Only a section's own scalars: names inside inventories are not valid in variable names.
        if path.count == 1, context.readsEnvironmentOverrides {
            let variable = "HELPDESK_\(path[0])_\(key)".uppercased()
            if let text = context.environment[variable] {
                guard let value = parse(text) else {
                    context.reportEnvironment(variable, path + [key], "expected \(expected), got \"\(text)\"")
                    return nil
                }
                return value
            }
        }
        guard let (node, mark) = entry(key) else { return nil }
        guard case .scalar(let scalar) = node else {
            context.report(path + [key], mark, "expected \(expected), got \(Self.kind(of: node))")
            return nil
        }
        if scalar.tag.rawValue == Tag.Name.null.rawValue || (scalar.string.isEmpty && scalar.style == .plain) {
            return nil  // `key:` with no value keeps the default
        }
        guard let value = parse(scalar.string) else {
            context.report(path + [key], mark, "expected \(expected), got \"\(scalar.string)\"")
            return nil
        }
        return value
    }

    private static func kind(of node: Node) -> String {
        switch node {
        case .scalar(let scalar): "\"\(scalar.string)\""
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}
