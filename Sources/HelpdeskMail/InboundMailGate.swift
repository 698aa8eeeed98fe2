import Crypto
import Foundation
import HelpdeskConfig
import HelpdeskCore

/// What `/webhooks/email` received, without the web framework's types.
public struct InboundMailRequest: Sendable {
    public var contentType: String
    public var authorization: String?
    public var sendGridSignature: String?
    public var sendGridTimestamp: String?
    public var body: [UInt8]

    public init(contentType: String, authorization: String?, sendGridSignature: String?, sendGridTimestamp: String?, body: [UInt8]) {
        self.contentType = contentType
        self.authorization = authorization
        self.sendGridSignature = sendGridSignature
        self.sendGridTimestamp = sendGridTimestamp
        self.body = body
    }
}

/// Why a post was not let in.
public enum InboundMailRefusal: Error, Sendable, Equatable {
    /// 401: the credentials are missing or wrong; the reason is for the log only.
    case unauthenticated(reason: String)
    /// 400 or 415: authenticated (or open), but not a post we can read.
    case undecodable(InboundMailPostError)
}

/// `/webhooks/email`'s door: checks the configured credentials, then decodes the post. Mailgun's
/// signature lives inside its form, so for Mailgun the form is decoded first and nothing else of it
/// is used until the signature has passed.
public struct InboundMailGate: Sendable {
    public let settings: InboundEmailSettings
    let sendGridKey: P256.Signing.PublicKey?
    let replays: MailgunReplayCache

    public init(settings: InboundEmailSettings, replays: MailgunReplayCache = MailgunReplayCache()) {
        self.settings = settings
        self.sendGridKey = settings.sendgridPublicKeyDER.flatMap { try? P256.Signing.PublicKey(derRepresentation: $0) }
        self.replays = replays
    }

    /// The decoded post when its credentials pass.
    public func admit(_ request: InboundMailRequest, now: Date) throws(InboundMailRefusal) -> InboundMailPost {
        guard let auth = settings.auth else { throw .unauthenticated(reason: "inbound_email.auth is not configured") }
        switch auth {
        case .none:
            break
        case .bearer:
            guard let token = settings.bearerToken else { throw .unauthenticated(reason: "no bearer token configured") }
            guard InboundMailCredentials.bearer(authorization: request.authorization, token: token) else {
                throw .unauthenticated(reason: request.authorization == nil ? "no Authorization header" : "wrong bearer token")
            }
        case .basic:
            guard let username = settings.basicAuthUsername, let password = settings.basicAuthPassword else {
                throw .unauthenticated(reason: "no basic auth credentials configured")
            }
            guard InboundMailCredentials.basic(authorization: request.authorization, username: username, password: password) else {
                throw .unauthenticated(reason: request.authorization == nil ? "no Authorization header" : "wrong basic auth credentials")
            }
        case .sendgrid:
            guard let key = sendGridKey else { throw .unauthenticated(reason: "no SendGrid verification key configured") }
            if let failure = SendGridSignature.verify(body: request.body, timestamp: request.sendGridTimestamp, signature: request.sendGridSignature,
                                                      publicKey: key, now: now, window: settings.replayWindow) {
                throw .unauthenticated(reason: "SendGrid signature: \(failure.rawValue)")
            }
        case .mailgun:
            return try admitMailgun(request, now: now)
        }
        do {
            return try InboundMailPost.decode(contentType: request.contentType, body: request.body)
        } catch {
            throw .undecodable(error)
        }
    }

    private func admitMailgun(_ request: InboundMailRequest, now: Date) throws(InboundMailRefusal) -> InboundMailPost {
        guard let key = settings.mailgunSigningKey else { throw .unauthenticated(reason: "no Mailgun signing key configured") }
        let post: InboundMailPost
        do {
            post = try InboundMailPost.decode(contentType: request.contentType, body: request.body)
        } catch {
            // Without a readable form there is no signature to check: that is a missing credential.
            throw .unauthenticated(reason: "Mailgun signature: \(MailgunSignature.Failure.missingFields.rawValue) (\(error))")
        }
        if let failure = MailgunSignature.verify(post.mailgunFields, key: key, now: now, window: settings.replayWindow) {
            throw .unauthenticated(reason: "Mailgun signature: \(failure.rawValue)")
        }
        guard let fields = post.mailgunFields, replays.claim(fields.token, now: now, window: settings.replayWindow) else {
            throw .unauthenticated(reason: "Mailgun signature: \(MailgunSignature.Failure.replayed.rawValue)")
        }
        return post
    }
}
