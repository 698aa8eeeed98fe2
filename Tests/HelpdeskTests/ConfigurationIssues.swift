import HelpdeskConfig

/// Every problem the configuration `yaml` has, or none: what most configuration tests assert on.
func configurationIssues(_ yaml: String, file: String = "test.yaml", environment: [String: String] = [:]) -> [ConfigIssue] {
    do {
        _ = try HelpdeskConfiguration(yaml: yaml, file: file, environment: environment)
        return []
    } catch {
        return error.issues
    }
}
