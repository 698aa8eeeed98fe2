/// A button the web shows: one of the actions a click may ask for (the action ids of
/// `SlackInteractionJob`'s `BlockAction.Kind`). The page posts it to `/web/action` as it is.
public enum WebActionKind: String, Sendable, CaseIterable {
    case approve, deny
    case runAction = "run_action"
    case silence
}

public struct WebButton: Sendable, Equatable {
    public var kind: WebActionKind
    /// What the click sends back, as the template put it in the button (an approval id, a JSON call).
    public var value: String
    /// Plain text; the template escapes it.
    public var label: String
    /// `primary` or `danger`, or `nil`.
    public var style: String?
    /// Slack's confirmation dialog as plain text (title, then text), asked before the form is sent.
    public var confirm: String?

    public init(kind: WebActionKind, value: String, label: String, style: String? = nil, confirm: String? = nil) {
        self.kind = kind
        self.value = value
        self.label = label
        self.style = style
        self.confirm = confirm
    }

    /// The template's view: `kind`, `value`, `label`, `style` (empty for none), `confirm` (`false` for
    /// none) and, when given, `thread` (else the template finds the enclosing thread's).
    public func view(thread: String? = nil) -> [String: Any] {
        var view: [String: Any] = ["kind": kind.rawValue, "value": value, "label": label, "style": style ?? "", "confirm": false]
        if let confirm { view["confirm"] = confirm }
        if let thread { view["thread"] = thread }
        return view
    }
}

/// One block of a message as the web shows it. HTML in it comes from ``MrkdwnHTML`` (escaped);
/// plain text is for the template to escape.
public enum WebBlock: Sendable, Equatable {
    /// Plain text.
    case header(String)
    /// HTML of the text (empty when the section has only fields), HTML of each field, the accessory button.
    case section(html: String, fields: [String], buttons: [WebButton])
    /// HTML of the context line.
    case context(html: String)
    case divider
    case actions([WebButton])
    /// An http(s) image, shown as a link (the pages' CSP loads no image from elsewhere); `alt` is plain text.
    case image(url: String, alt: String)
    /// Plain text in place of a message that could not be read.
    case notice(String)

    /// The template's view (`web_blocks.mustache`). Every key is present in every block, `false` or
    /// empty when it does not apply, so a template never finds a key of an enclosing context instead:
    /// `header` (text), `section` (flag), `has_text`, `section_html`, `has_fields`, `fields_html`,
    /// `has_buttons`, `buttons`, `context_html`, `divider`, `image_url`, `image_alt`, `notice`.
    public func view(thread: String? = nil) -> [String: Any] {
        var view: [String: Any] = [
            "header": false, "section": false, "has_text": false, "section_html": "", "has_fields": false,
            "fields_html": [String](), "has_buttons": false, "buttons": [[String: Any]](), "context_html": false,
            "divider": false, "image_url": false, "image_alt": "", "notice": false,
        ]
        func setButtons(_ buttons: [WebButton]) {
            view["has_buttons"] = !buttons.isEmpty
            view["buttons"] = buttons.map { $0.view(thread: thread) }
        }
        switch self {
        case .header(let text):
            view["header"] = text
        case .section(let html, let fields, let buttons):
            view["section"] = true
            view["has_text"] = !html.isEmpty
            view["section_html"] = html
            view["has_fields"] = !fields.isEmpty
            view["fields_html"] = fields
            setButtons(buttons)
        case .context(let html):
            view["context_html"] = html
        case .divider:
            view["divider"] = true
        case .actions(let buttons):
            setButtons(buttons)
        case .image(let url, let alt):
            view["image_url"] = url
            view["image_alt"] = alt
        case .notice(let text):
            view["notice"] = text
        }
        return view
    }

    /// The buttons of this block.
    public var buttons: [WebButton] {
        switch self {
        case .section(_, _, let buttons), .actions(let buttons): buttons
        default: []
        }
    }
}
