import Foundation
import HelpdeskContent
import HelpdeskCore
import Yams

/// Reads policy files, reporting problems as `file:line: path: what is wrong`.
///
/// Each way to load comes twice: returning the policies alone, or, given the tool names this server
/// has (`knownTools`), the policies with their warnings — what loads but likely does not mean what it
/// says, such as a `match.tool` naming no tool here or a limit of 0 (see ``Loaded``).
///
/// ```swift
/// let loaded = try PolicyLoader.load(from: content, knownTools: BuiltInTools.names)
/// for warning in loaded.warnings { logger.warning("\(warning)") }
/// ```
public enum PolicyLoader {
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        public var file: String
        public var line: Int?
        public var message: String

        public var description: String { line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)" }
    }

    /// Policies that load, and what in them loads but likely does not mean what it says, each with
    /// its file and line (`file:line: path: what`). A warning never stops a load.
    public struct Loaded: Sendable {
        public var policies: [Policy]
        public var warnings: [LoadError]
    }

    /// The policies in force: the configured file's (`policies.file`) or folder's (`policies.dir`)
    /// when one is set (and then none of the built-in ones), else those the binary ships. Every
    /// problem of every file is reported.
    public static func load(from content: ContentLibrary) throws(PolicyLoadErrors) -> [Policy] {
        try load(from: content, knownTools: nil).policies
    }

    /// The policies in force and their warnings.
    /// - Parameter knownTools: every tool name this server has; `nil` does not check tool names.
    public static func load(from content: ContentLibrary, knownTools: Set<String>?) throws(PolicyLoadErrors) -> Loaded {
        let files: [ContentFile]
        do {
            files = try content.files(.policies)
        } catch {
            throw PolicyLoadErrors(errors: [LoadError(file: error.path, line: nil, message: error.reason)])
        }
        return try load(files, knownTools: knownTools)
    }

    /// Parses policy files in the order given; each policy's `file` is where it came from.
    public static func load(_ files: [ContentFile]) throws(PolicyLoadErrors) -> [Policy] {
        try load(files, knownTools: nil).policies
    }

    /// Parses policy files in the order given, with their warnings.
    public static func load(_ files: [ContentFile], knownTools: Set<String>?) throws(PolicyLoadErrors) -> Loaded {
        var results: [Result<Loaded, PolicyLoadErrors>] = []
        for file in files {
            do {
                results.append(.success(try parse(yaml: file.text, file: file.location, knownTools: knownTools)))
            } catch {
                results.append(.failure(error))
            }
        }
        return try combine(results)
    }

    /// Loads a file, or every `*.yaml`/`*.yml` in a folder (in name order), into one list of
    /// policies; every problem of every file is reported.
    public static func load(_ path: String) throws(PolicyLoadErrors) -> [Policy] {
        try load(path, knownTools: nil).policies
    }

    /// Loads a file or a folder of them, with their warnings.
    public static func load(_ path: String, knownTools: Set<String>?) throws(PolicyLoadErrors) -> Loaded {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw PolicyLoadErrors(errors: [LoadError(file: path, line: nil, message: "no such file or folder")])
        }
        let files: [String]
        if isDirectory.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            files = names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { (path as NSString).appendingPathComponent($0) }
        } else {
            files = [path]
        }
        var results: [Result<Loaded, PolicyLoadErrors>] = []
        for file in files {
            do {
                results.append(.success(try loadFile(file, knownTools: knownTools)))
            } catch {
                results.append(.failure(error))
            }
        }
        return try combine(results)
    }

    /// The policies of each file, or every problem of every file plus each policy name used twice
    /// (decisions and the audit log name policies, so a name must mean one policy).
    private static func combine(_ files: [Result<Loaded, PolicyLoadErrors>]) throws(PolicyLoadErrors) -> Loaded {
        var all = Loaded(policies: [], warnings: [])
        var errors: [LoadError] = []
        for file in files {
            switch file {
            case .success(let loaded):
                all.policies += loaded.policies
                all.warnings += loaded.warnings
            case .failure(let error):
                errors += error.errors
                all.warnings += error.warnings
            }
        }
        var seen: [String: String] = [:]
        for policy in all.policies {
            if let other = seen[policy.name] {
                errors.append(LoadError(file: policy.file, line: nil, message: "policy name \"\(policy.name)\" is also used in \(other)"))
            }
            seen[policy.name] = policy.file
        }
        if !errors.isEmpty { throw PolicyLoadErrors(errors: errors, warnings: all.warnings) }
        return all
    }

    /// The policies of one file; every problem in it is reported.
    public static func loadFile(_ file: String) throws(PolicyLoadErrors) -> [Policy] {
        try loadFile(file, knownTools: nil).policies
    }

    /// The policies of one file, with their warnings.
    public static func loadFile(_ file: String, knownTools: Set<String>?) throws(PolicyLoadErrors) -> Loaded {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw PolicyLoadErrors(errors: [LoadError(file: file, line: nil, message: "cannot read: \(describeFileError(error))")])
        }
        return try parse(yaml: text, file: file, knownTools: knownTools)
    }

    /// Parses the text of a policy file; `file` names it in errors and in each policy. Every policy
    /// that does not decode is reported (one problem each, at its line), not only the first.
    public static func parse(yaml text: String, file: String) throws(PolicyLoadErrors) -> [Policy] {
        try parse(yaml: text, file: file, knownTools: nil).policies
    }

    /// Parses the text of a policy file, with its warnings.
    public static func parse(yaml text: String, file: String, knownTools: Set<String>?) throws(PolicyLoadErrors) -> Loaded {
        let collector = PolicyWarningCollector(knownTools: knownTools)
        let entries: PolicyFileEntries
        do {
            entries = try YAMLDecoder().decode(PolicyFileEntries.self, from: text,
                                               userInfo: [PolicyWarningCollector.key: collector])
        } catch {
            throw PolicyLoadErrors(errors: [loadError(error, file: file, text: text)])
        }
        var policies: [Policy] = []
        var errors: [LoadError] = []
        for entry in entries.policies {
            switch entry.result {
            case .success(var policy):
                policy.file = file
                policies.append(policy)
            case .failure(let error):
                errors.append(loadError(error, file: file, text: text))
            }
        }
        let root = try? Yams.compose(yaml: text)
        var warnings = collector.warnings.map { warning -> LoadError in
            let path = dottedPath(warning.path)
            let message = path.isEmpty ? warning.message : "\(path): \(warning.message)"
            return LoadError(file: file, line: line(at: warning.path, in: root), message: message)
        }
        if knownTools != nil { warnings += environmentReferences(in: text, file: file) }
        if !errors.isEmpty { throw PolicyLoadErrors(errors: errors, warnings: warnings) }
        return Loaded(policies: policies, warnings: warnings)
    }

    /// aiHelpDesk replaces `$NAME`, `${NAME}` and `$1`-like specials in a policy file with the environment's values before
    /// reading it; here the text is read as written, so each reference outside a comment is named.
    static func environmentReferences(in text: String, file: String) -> [LoadError] {
        var found: [LoadError] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.trimmingCharacters(in: .whitespaces).hasPrefix("#") ? "" : String(line)
            // As Go's os.ExpandEnv reads them: ${…}, a name, or one special character ($1, $$, $@, …).
            guard let match = content.firstMatch(of: /\$(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*|[*#$@!?0-9-])/) else { continue }
            found.append(LoadError(file: file, line: index + 1, message: "\(match.output.0) is read as written: aiHelpDesk would replace it "
                                   + "with the environment variable's value, this project does not; write the value itself"))
        }
        return found
    }

    /// `file:line: path: what is wrong` for an error decoding `text`.
    private static func loadError(_ error: any Error, file: String, text: String) -> LoadError {
        guard let decoding = error as? DecodingError else { return LoadError(file: file, line: nil, message: "\(error)") }
        return LoadError(file: file, line: line(of: decoding, in: text), message: describeDecodingError(decoding))
    }

    /// The line a decoding error points at, found by walking the YAML along its coding path.
    static func line(of error: DecodingError, in text: String) -> Int? {
        let path: [any CodingKey]
        switch error {
        case .keyNotFound(_, let context), .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            if let yaml = context.underlyingError as? YamlError, let line = yamlErrorLine(yaml) { return line }
            path = context.codingPath
        @unknown default:
            return nil
        }
        return line(at: path, in: try? Yams.compose(yaml: text))
    }

    /// The line of the key or element `path` leads to in `root`, or of the nearest one above it that exists.
    static func line(at path: [any CodingKey], in root: Node?) -> Int? {
        guard var node = root else { return nil }
        var line = node.mark?.line
        for key in path {
            switch node {
            case .mapping(let mapping):
                guard let pair = mapping.first(where: { $0.key.string == key.stringValue }) else { return line }
                line = pair.key.mark?.line ?? line
                node = pair.value
            case .sequence(let sequence):
                guard let index = key.intValue, index < sequence.count else { return line }
                node = sequence[index]
                line = node.mark?.line ?? line
            default:
                return line
            }
        }
        return line
    }

    private static func yamlErrorLine(_ error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: nil
        }
    }
}

/// Every problem found while loading policies.
public struct PolicyLoadErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [PolicyLoader.LoadError]
    /// Warnings of the files that did load, and of the parts of a failing file that did: shown with the
    /// errors, so fixing those does not uncover a second round.
    public var warnings: [PolicyLoader.LoadError]

    public init(errors: [PolicyLoader.LoadError], warnings: [PolicyLoader.LoadError] = []) {
        self.errors = errors
        self.warnings = warnings
    }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
