/// Fields copied from an unauthenticated message into the append-only audit log are capped, so a
/// stranger cannot grow the log by more than a few hundred bytes per field and request.
public enum AuditField {
    public static let maxBytes = 200

    /// `text` cut to at most `bytes` UTF-8 bytes on a character boundary, with "…" when cut.
    public static func cap(_ text: String, bytes: Int = maxBytes) -> String {
        guard text.utf8.count > bytes else { return text }
        let marker = "…"
        let budget = max(0, bytes - marker.utf8.count)
        var used = 0
        var result = ""
        for character in text {
            let size = character.utf8.count
            guard used + size <= budget else { break }
            result.append(character)
            used += size
        }
        return result + marker
    }
}
