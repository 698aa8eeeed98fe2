import Foundation
import HelpdeskCore

/// A message the bot posted (Web API arguments: `text`, `blocks`) as the web shows it: its blocks as
/// ``WebBlock``s, with the buttons the web can act on.
///
///     let blocks = BlockKitHTML.blocks(entry.body)                 // typed, for tests and code
///     let view = BlockKitHTML.blocks(entry.body).map { $0.view(thread: "approval:apr_1") }   // for web_blocks.mustache
///
/// Blocks of a type the web does not show are skipped, and so are buttons whose `action_id` is not a
/// ``WebActionKind``. A body with no blocks shows its `text` as mrkdwn. A body that is not a Block
/// Kit message shows ``unreadable`` instead; nothing here throws or traps.
public enum BlockKitHTML {
    /// Shown in place of a message that could not be read.
    public static let unreadable = "This message could not be shown."

    /// The blocks of `body`, in order.
    public static func blocks(_ body: JSONValue) -> [WebBlock] {
        guard case .object = body,
              let message = try? JSONDecoder().decode(BlockKitMessage.self, from: Data(body.jsonText.utf8)) else {
            return [.notice(unreadable)]
        }
        let shown = (message.blocks ?? []).compactMap(webBlock)
        if !shown.isEmpty { return shown }
        // Slack shows `text` only when there are no blocks (it is the notification's text otherwise).
        if let text = message.text, !text.isEmpty { return [.section(html: MrkdwnHTML.html(text), fields: [], buttons: [])] }
        return [.notice(unreadable)]
    }

    static func webBlock(_ block: BlockKitBlock) -> WebBlock? {
        switch block {
        case .header(let text):
            return .header(text.plain)
        case .section(let text, let fields, let accessory):
            let html = text?.html ?? ""
            let buttons = accessory.flatMap(button).map { [$0] } ?? []
            guard !html.isEmpty || !fields.isEmpty || !buttons.isEmpty else { return nil }
            return .section(html: html, fields: fields.map(\.html), buttons: buttons)
        case .context(let elements):
            let texts = elements.compactMap { element -> String? in
                guard case .text(let text) = element else { return nil }
                return text.html
            }
            return texts.isEmpty ? nil : .context(html: texts.joined(separator: " "))
        case .divider:
            return .divider
        case .actions(let elements):
            let buttons = elements.compactMap(button)
            return buttons.isEmpty ? nil : .actions(buttons)
        case .image(let url, let alt, let title):
            let lowered = url.lowercased()
            guard lowered.hasPrefix("https://") || lowered.hasPrefix("http://") else { return nil }
            let text = title?.plain ?? MrkdwnHTML.plainText(alt)
            return .image(url: url, alt: text.isEmpty ? url : text)
        case .unsupported:
            return nil
        }
    }

    static func button(_ element: BlockKitElement) -> WebButton? {
        guard case .button(let button) = element, let kind = button.actionID.flatMap(WebActionKind.init(rawValue:)),
              let value = button.value else { return nil }
        let confirm = [button.confirm?.title?.plain, button.confirm?.text?.plain].compactMap { $0 }.filter { !$0.isEmpty }
        return WebButton(kind: kind, value: value, label: button.text.plain,
                         style: button.style.flatMap { ["primary", "danger"].contains($0) ? $0 : nil },
                         confirm: confirm.isEmpty ? nil : confirm.joined(separator: "\n"))
    }
}
