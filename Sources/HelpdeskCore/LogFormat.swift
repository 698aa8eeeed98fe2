/// How log lines are written: for a person at a terminal, or one JSON object a line for a collector.
public enum LogFormat: String, Sendable, CaseIterable {
    case human
    case json
}
