import Foundation
import HelpdeskContent
import HelpdeskCore
import Yams

/// A runbook: for a symptom or alert, which tools to run and which rules turn their results into
/// findings. Runbooks are YAML files under `runbooks/`, shipped in the binary; unknown keys are
/// errors, not ignored.
public struct Runbook: Sendable, Decodable {
    public enum TargetType: String, Sendable, Decodable {
        case database, kubernetes
    }

    public struct Match: Sendable, Decodable {
        /// Words that select this runbook when they occur in the symptom text.
        public var symptoms: [String]
        /// Alert names (`alertname` label) that select it.
        public var alerts: [String]
        /// Used when nothing else matches a target of this type.
        public var fallback: Bool

        enum CodingKeys: String, CodingKey, CaseIterable { case symptoms, alerts, fallback }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            symptoms = try container.decodeIfPresent([String].self, forKey: .symptoms) ?? []
            alerts = try container.decodeIfPresent([String].self, forKey: .alerts) ?? []
            fallback = try container.decodeIfPresent(Bool.self, forKey: .fallback) ?? false
        }
    }

    public struct Step: Sendable, Decodable {
        public var tool: String
        public var args: [String: JSONValue]
        /// Overrides the configured per-tool timeout, e.g. `20s`.
        public var timeout: Duration?

        enum CodingKeys: String, CodingKey, CaseIterable { case tool, args, timeout }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            tool = try container.decode(String.self, forKey: .tool)
            args = try container.decodeIfPresent([String: JSONValue].self, forKey: .args) ?? [:]
            if let text = try container.decodeIfPresent(String.self, forKey: .timeout) {
                guard let duration = Duration(parsing: text), duration > .zero else {
                    throw DecodingError.dataCorruptedError(forKey: .timeout, in: container, debugDescription: "expected a duration like 10s, at most 3650d, got \"\(text)\"")
                }
                timeout = duration
            }
        }
    }

    public var name: String
    public var description: String
    public var targetType: TargetType
    public var match: Match
    public var tools: [Step]
    public var rules: [Rule]
    /// The file it came from, for messages.
    public var file = ""

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, description, targetType = "target_type", match, tools, rules
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        description = try container.decodeIfPresent(String.self, forKey: .description) ?? ""
        targetType = try container.decodeIfPresent(TargetType.self, forKey: .targetType) ?? .database
        match = try container.decode(Match.self, forKey: .match)
        tools = try container.decode([Step].self, forKey: .tools)
        rules = try container.decodeIfPresent([Rule].self, forKey: .rules) ?? []
        // A join reads a result the runbook already has; a tool it does not run would silently join nothing.
        let run = Set(tools.map(\.tool))
        for (ruleIndex, rule) in rules.enumerated() {
            for (joinIndex, join) in rule.join.enumerated() where !run.contains(join.tool) {
                let path: [any CodingKey] = [CodingKeys.rules, AnyCodingKey(stringValue: String(ruleIndex)), Rule.CodingKeys.join,
                                              AnyCodingKey(stringValue: String(joinIndex)), Rule.Join.CodingKeys.tool]
                throw DecodingError.dataCorrupted(DecodingError.Context(
                    codingPath: container.codingPath + path,
                    debugDescription: "rule \(rule.id) joins the tool \(join.tool), which this runbook does not run; add it under tools"))
            }
        }
    }

    /// Whether `symptom` mentions one of this runbook's symptom words (whole words, any case).
    public func matches(symptom: String) -> Bool {
        let words = Set(symptom.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber && $0 != "_" }).map(String.init))
        return match.symptoms.contains { keyword in
            let parts = keyword.lowercased().split(separator: " ").map(String.init)
            return parts.count == 1 ? words.contains(parts[0]) : symptom.lowercased().contains(keyword.lowercased())
        }
    }
}

/// Loads runbooks: the ones in force (shipped, with a configured folder's files over them), or
/// every `*.yaml`/`*.yml` in one folder, in file-name order.
public enum RunbookLoader {
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        public var file: String
        public var message: String
        public var description: String { "\(file): \(message)" }
    }

    /// The runbooks in force: those the binary ships, with the configured folder's files replacing
    /// shipped ones of the same file name and adding new ones.
    public static func load(from content: ContentLibrary) throws(LoadError) -> [Runbook] {
        let files: [ContentFile]
        do {
            files = try content.files(.runbooks)
        } catch {
            throw LoadError(file: error.path, message: error.reason)
        }
        return try load(files)
    }

    /// Parses runbook files in the order given; each runbook's `file` is where it came from.
    public static func load(_ files: [ContentFile]) throws(LoadError) -> [Runbook] {
        var runbooks: [Runbook] = []
        for file in files {
            var runbook = try parse(yaml: file.text, file: file.location)
            runbook.file = file.location
            try append(runbook, to: &runbooks)
        }
        return runbooks
    }

    /// Only the runbooks in `directory` (for checking a folder on its own).
    public static func load(directory: String) throws(LoadError) -> [Runbook] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        } catch {
            throw LoadError(file: directory, message: "cannot read the runbook folder: \(describeFileError(error))")
        }
        var runbooks: [Runbook] = []
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            var runbook = try load(file: path)
            runbook.file = path
            try append(runbook, to: &runbooks)
        }
        return runbooks
    }

    /// Names are how Slack, the API and the audit log refer to a runbook, so they must be unique.
    private static func append(_ runbook: Runbook, to runbooks: inout [Runbook]) throws(LoadError) {
        if let duplicate = runbooks.first(where: { $0.name == runbook.name }) {
            throw LoadError(file: runbook.file, message: "runbook name \"\(runbook.name)\" is also used by \(duplicate.file)")
        }
        runbooks.append(runbook)
    }

    public static func load(file path: String) throws(LoadError) -> Runbook {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw LoadError(file: path, message: "\(error)")
        }
        return try parse(yaml: text, file: path)
    }

    /// Parses the text of a runbook file; `file` names it in errors.
    public static func parse(yaml text: String, file: String) throws(LoadError) -> Runbook {
        do {
            return try YAMLDecoder().decode(Runbook.self, from: text)
        } catch let error as DecodingError {
            throw LoadError(file: file, message: describe(error))
        } catch {
            throw LoadError(file: file, message: "\(error)")
        }
    }

    public static func describe(_ error: DecodingError) -> String {
        describeDecodingError(error)
    }
}
