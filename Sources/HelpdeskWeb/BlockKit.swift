/// The Block Kit the bot posts (`templates/slack`), decoded into types: the blocks and elements our
/// templates use, and a case for everything else, which the web skips rather than fails on.
struct BlockKitMessage: Decodable {
    /// The notification text; shown only when there are no blocks.
    var text: String?
    var blocks: [BlockKitBlock]?

    enum CodingKeys: String, CodingKey { case text, blocks }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        text = try container.decodeIfPresent(String.self, forKey: .text)
        blocks = try container.decodeIfPresent([Lossy<BlockKitBlock>].self, forKey: .blocks)?.map { $0.value ?? .unsupported }
    }
}

/// A value that decodes as `nil` when it is not what it should be, so one odd block or element does
/// not cost the rest of the message.
struct Lossy<Value: Decodable>: Decodable {
    var value: Value?

    init(from decoder: any Decoder) throws {
        value = try? Value(from: decoder)
    }
}

/// A Block Kit text object.
struct BlockKitText: Decodable, Equatable {
    enum Kind: String, Decodable { case plainText = "plain_text", mrkdwn }

    var type: Kind
    var text: String

    /// As HTML for a block's body.
    var html: String {
        switch type {
        case .mrkdwn: MrkdwnHTML.html(text)
        case .plainText: HTMLText.escaped(MrkdwnHTML.plainText(text))
        }
    }

    /// As plain text (a confirm dialog): entities decoded, mrkdwn markers left as they are.
    var plain: String { MrkdwnHTML.plainText(text) }
}

enum BlockKitBlock: Decodable {
    case header(BlockKitText)
    case section(text: BlockKitText?, fields: [BlockKitText], accessory: BlockKitElement?)
    case context([BlockKitContextElement])
    case divider
    case actions([BlockKitElement])
    case image(url: String, alt: String, title: BlockKitText?)
    /// A type the web does not show (`input`, `rich_text`, `video`, …).
    case unsupported

    enum CodingKeys: String, CodingKey {
        case type, text, fields, accessory, elements
        case imageURL = "image_url", altText = "alt_text", title
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(String.self, forKey: .type) {
        case "header":
            self = .header(try container.decode(BlockKitText.self, forKey: .text))
        case "section":
            self = .section(
                text: try container.decodeIfPresent(BlockKitText.self, forKey: .text),
                fields: try container.decodeIfPresent([Lossy<BlockKitText>].self, forKey: .fields)?.compactMap(\.value) ?? [],
                accessory: try container.decodeIfPresent(Lossy<BlockKitElement>.self, forKey: .accessory)?.value)
        case "context":
            self = .context(try container.decode([Lossy<BlockKitContextElement>].self, forKey: .elements).compactMap(\.value))
        case "divider":
            self = .divider
        case "actions":
            self = .actions(try container.decode([Lossy<BlockKitElement>].self, forKey: .elements).compactMap(\.value))
        case "image":
            self = .image(url: try container.decode(String.self, forKey: .imageURL), alt: try container.decode(String.self, forKey: .altText),
                          title: try container.decodeIfPresent(BlockKitText.self, forKey: .title))
        default:
            self = .unsupported
        }
    }
}

/// An element of a context block: text, or a small image (which the web leaves out).
enum BlockKitContextElement: Decodable {
    case text(BlockKitText)
    case other

    init(from decoder: any Decoder) throws {
        let text = try? BlockKitText(from: decoder)
        self = text.map(Self.text) ?? .other
    }
}

/// An interactive element of an actions block or a section's accessory; buttons are the only kind we post.
enum BlockKitElement: Decodable {
    case button(BlockKitButton)
    case other

    enum CodingKeys: String, CodingKey { case type }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard try container.decode(String.self, forKey: .type) == "button" else {
            self = .other
            return
        }
        self = .button(try BlockKitButton(from: decoder))
    }
}

struct BlockKitButton: Decodable {
    var actionID: String?
    var value: String?
    var style: String?
    var text: BlockKitText
    var confirm: Confirm?

    /// Slack's confirmation dialog, which the web asks with `confirm()` (app.js).
    struct Confirm: Decodable {
        var title: BlockKitText?
        var text: BlockKitText?
    }

    enum CodingKeys: String, CodingKey {
        case actionID = "action_id", value, style, text, confirm
    }
}
