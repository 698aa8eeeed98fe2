import Foundation
import HelpdeskCore

extension Rule {
    /// Puts into each element the first element of another tool's output that matches it, at `as`
    /// (a pending pod gets its FailedScheduling event). The tool must be one the runbook runs.
    public struct Join: Sendable, Decodable {
        /// Where the match goes in the element (`as` in YAML).
        public var name: String
        public var tool: String
        /// Dotted path to a list in that tool's output; absent: the output itself is the one candidate.
        public var each: String?
        /// Conditions on a candidate; string operands are templates filled from the element (`where`).
        public var conditions: [Condition]

        enum CodingKeys: String, CodingKey, CaseIterable { case name = "as", tool, each, conditions = "where" }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try Rule.elementKey(in: container, forKey: .name)
            tool = try container.decode(String.self, forKey: .tool)
            each = try container.decodeIfPresent(String.self, forKey: .each)
            conditions = try container.decodeIfPresent([Condition].self, forKey: .conditions) ?? []
        }
    }

    /// One finding per distinct tuple of values at `by`, for many sessions of one application.
    public struct Group: Sendable, Decodable {
        /// Paths into the element; members with equal values (missing ones alike) form one finding.
        public var by: [String]
        /// A numeric field: the member with its largest value is the finding's example (default: the first).
        public var worst: String?
        /// A field listed as `{group.list}`: the members' values, worst first, at most ten.
        public var list: String?

        enum CodingKeys: String, CodingKey, CaseIterable { case by, worst, list }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            by = try container.decode([String].self, forKey: .by)
            guard !by.isEmpty else {
                throw DecodingError.dataCorruptedError(forKey: .by, in: container,
                                                       debugDescription: "group.by needs at least one field path")
            }
            worst = try container.decodeIfPresent(String.self, forKey: .worst)
            list = try container.decodeIfPresent(String.self, forKey: .list)
        }
    }

    /// A read run for a kept finding, whose output goes into its element at `as` before the text is
    /// filled in (the crashed container's log). Only read tools run; the gate decides as for any step.
    public struct FollowUp: Sendable, Decodable {
        /// Where the output goes in the element (`as` in YAML).
        public var name: String
        public var tool: String
        /// Templates filled from the finding's element, like a recommendation's.
        public var args: [String: String]

        enum CodingKeys: String, CodingKey, CaseIterable { case name = "as", tool, args }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try Rule.elementKey(in: container, forKey: .name)
            tool = try container.decode(String.self, forKey: .tool)
            args = try container.decodeIfPresent([String: String].self, forKey: .args) ?? [:]
        }
    }

    /// An `as` name: one key of the element, so no dot (paths split there) and not `group`, which the
    /// rule itself fills.
    fileprivate static func elementKey<Key: CodingKey>(in container: KeyedDecodingContainer<Key>, forKey key: Key) throws -> String {
        let name = try container.decode(String.self, forKey: key)
        guard !name.isEmpty, !name.contains("."), name != "group" else {
            throw DecodingError.dataCorruptedError(forKey: key, in: container,
                debugDescription: "\"\(name)\" cannot be a name for `as`: use a non-empty key without dots, other than group")
        }
        return name
    }
}
