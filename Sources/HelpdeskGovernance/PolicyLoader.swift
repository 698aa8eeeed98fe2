import Foundation
import HelpdeskContent
import HelpdeskCore
import Yams

/// Reads policy files, reporting problems as `file:line: path: what is wrong`.
public enum PolicyLoader {
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        public var file: String
        public var line: Int?
        public var message: String

        public var description: String { line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)" }
    }

    /// The policies in force: the configured file's (`policies.file`) or folder's (`policies.dir`)
    /// when one is set (and then none of the built-in ones), else those the binary ships. Every
    /// problem of every file is reported.
    public static func load(from content: ContentLibrary) throws(PolicyLoadErrors) -> [Policy] {
        let files: [ContentFile]
        do {
            files = try content.files(.policies)
        } catch {
            throw PolicyLoadErrors(errors: [LoadError(file: error.path, line: nil, message: error.reason)])
        }
        return try load(files)
    }

    /// Parses policy files in the order given; each policy's `file` is where it came from.
    public static func load(_ files: [ContentFile]) throws(PolicyLoadErrors) -> [Policy] {
        var policies: [Policy] = []
        var errors: [LoadError] = []
        for file in files {
            do {
                policies += try parse(yaml: file.text, file: file.location)
            } catch {
                errors += error.errors
            }
        }
        return try unique(policies, errors: errors)
    }

    /// Loads a file, or every `*.yaml`/`*.yml` in a folder (in name order), into one list of
    /// policies; every problem of every file is reported.
    public static func load(_ path: String) throws(PolicyLoadErrors) -> [Policy] {
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
        var policies: [Policy] = []
        var errors: [LoadError] = []
        for file in files {
            do {
                policies += try loadFile(file)
            } catch {
                errors += error.errors
            }
        }
        return try unique(policies, errors: errors)
    }

    /// `policies`, or every problem found so far plus each policy name used twice (decisions and the
    /// audit log name policies, so a name must mean one policy).
    private static func unique(_ policies: [Policy], errors: [LoadError]) throws(PolicyLoadErrors) -> [Policy] {
        var errors = errors
        var seen: [String: String] = [:]
        for policy in policies {
            if let other = seen[policy.name] {
                errors.append(LoadError(file: policy.file, line: nil, message: "policy name \"\(policy.name)\" is also used in \(other)"))
            }
            seen[policy.name] = policy.file
        }
        if !errors.isEmpty { throw PolicyLoadErrors(errors: errors) }
        return policies
    }

    /// The policies of one file; every problem in it is reported.
    public static func loadFile(_ file: String) throws(PolicyLoadErrors) -> [Policy] {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw PolicyLoadErrors(errors: [LoadError(file: file, line: nil, message: "cannot read: \(describeFileError(error))")])
        }
        return try parse(yaml: text, file: file)
    }

    /// Parses the text of a policy file; `file` names it in errors and in each policy. Every policy
    /// that does not decode is reported (one problem each, at its line), not only the first.
    public static func parse(yaml text: String, file: String) throws(PolicyLoadErrors) -> [Policy] {
        let entries: PolicyFileEntries
        do {
            entries = try YAMLDecoder().decode(PolicyFileEntries.self, from: text)
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
        if !errors.isEmpty { throw PolicyLoadErrors(errors: errors) }
        return policies
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
        guard var node = try? Yams.compose(yaml: text) else { return nil }
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
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
