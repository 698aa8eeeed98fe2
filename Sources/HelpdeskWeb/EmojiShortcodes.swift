/// Slack's emoji shortcodes (`:lock:`) that our messages use, and a few common ones, as Unicode.
/// A shortcode not listed stays as text, as typed: a wrong guess would change what a message says.
public enum EmojiShortcodes {
    /// By name, without the colons.
    public static let table: [String: String] = [
        // Ours: templates/slack and Sources/HelpdeskSlack (WebRenderTests checks every one is here).
        "white_check_mark": "\u{2705}",
        "lock": "\u{1F512}",
        "red_circle": "\u{1F534}",
        "large_orange_circle": "\u{1F7E0}",
        "large_green_circle": "\u{1F7E2}",
        "large_blue_circle": "\u{1F535}",
        "no_entry": "\u{26D4}",
        "mute": "\u{1F507}",
        "x": "\u{274C}",
        "warning": "\u{26A0}\u{FE0F}",
        "rotating_light": "\u{1F6A8}",
        "hourglass": "\u{231B}",
        "ballot_box_with_check": "\u{2611}\u{FE0F}",
        // Common in operators' own templates.
        "heavy_check_mark": "\u{2714}\u{FE0F}",
        "information_source": "\u{2139}\u{FE0F}",
        "hourglass_flowing_sand": "\u{23F3}",
        "bell": "\u{1F514}",
        "mag": "\u{1F50D}",
        "fire": "\u{1F525}",
        "memo": "\u{1F4DD}",
        "package": "\u{1F4E6}",
        "wrench": "\u{1F527}",
        "eyes": "\u{1F440}",
        "tada": "\u{1F389}",
        "+1": "\u{1F44D}",
        "-1": "\u{1F44E}",
        "large_yellow_circle": "\u{1F7E1}",
        "white_circle": "\u{26AA}",
        "black_circle": "\u{26AB}",
        "arrows_counterclockwise": "\u{1F504}",
        "stopwatch": "\u{23F1}\u{FE0F}",
    ]

    /// The emoji for the shortcode that starts at `start` (a `:`), and where the shortcode ends.
    static func match(_ scalars: ArraySlice<Unicode.Scalar>, at start: Int) -> (emoji: String, end: Int)? {
        var index = start + 1
        // Slack's names are short; the bound keeps a line of colons linear.
        while index < scalars.endIndex, index - start <= 40, isNameScalar(scalars[index]) {
            index += 1
        }
        guard index > start + 1, index < scalars.endIndex, scalars[index] == ":" else { return nil }
        let name = String(String.UnicodeScalarView(scalars[(start + 1)..<index]))
        return table[name].map { ($0, index + 1) }
    }

    private static func isNameScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "0"..."9", "_", "+", "-": true
        default: false
        }
    }
}
