import Crypto
import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskMail
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import Testing

@Suite struct AuthenticationResultsTests {
    static func mail(_ authenticationResults: [String], from: String = "alice@example.org") throws -> InboundMail {
        let headers = authenticationResults.map { "Authentication-Results: \($0)\r\n" }.joined()
        return try InboundMail(raw: "\(headers)From: Alice <\(from)>\r\nSubject: Re: x\r\n\r\napprove\r\n")
    }

    static func passes(_ header: String, sender: String = "example.org") throws -> Bool {
        SenderAuthentication.check(try mail([header]), senderDomain: sender, authservID: "mx.example.org") == nil
    }

    @Test func parsesTheGrammarWithCommentsQuotesAndVersions() throws {
        let results = try AuthenticationResults(parsing: """
            mx.example.org 1; (our MTA) dkim/1=pass (2048-bit key) reason="signature ok; verified" header.d=example.org \
            header.i=@example.org header.b="ab+/c=="; spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=alice@example.org;
            dmarc=pass (p=reject dis=none) header.from=Example.ORG
            """)
        #expect(results.authservID == "mx.example.org" && results.version == 1)
        #expect(results.results.map(\.method) == ["dkim", "spf", "dmarc"])
        let dkim = results.results[0]
        #expect(dkim.version == 1 && dkim.result == "pass" && dkim.reason == "signature ok; verified")
        #expect(dkim.property("header", "d") == "example.org" && dkim.property("header", "i") == "@example.org")
        #expect(dkim.property("header", "b") == "ab+/c==")
        #expect(results.results[1].property("smtp", "mailfrom") == "alice@example.org")
        #expect(results.results[2].property("header", "from") == "Example.ORG")
        #expect(try AuthenticationResults(parsing: "mx.example.org; none").results.isEmpty)
        #expect(try AuthenticationResults(parsing: "\"mx.example.org\" (c (nested) c); dkim = pass header . d = example.org")
            .results.first?.property("header", "d") == "example.org")
    }

    @Test func malformedHeadersAreErrorsNotCrashes() {
        for bad in ["", ";", "mx.example.org dkim=pass", "mx.example.org; dkim", "mx.example.org; dkim=pass (unclosed",
                    "mx.example.org; dkim=pass header.d=\"unterminated", "mx.example.org; =pass", "mx.example.org; dkim=pass header.=x",
                    String(repeating: "(", count: 40) + ")", "mx.example.org; " + String(repeating: "a=pass;", count: 100)] {
            #expect(throws: AuthenticationResultsError.self, "\(bad)") { try AuthenticationResults(parsing: bad) }
        }
        #expect(throws: AuthenticationResultsError.tooLarge) {
            try AuthenticationResults(parsing: "mx.example.org; dkim=pass header.b=" + String(repeating: "A", count: 20_000))
        }
    }

    @Test func dmarcPassForTheExactFromDomainPasses() throws {
        #expect(try Self.passes("mx.example.org; dmarc=pass header.from=example.org"))
        #expect(try Self.passes("MX.Example.Org; dmarc=pass header.from=EXAMPLE.org."), "case-insensitive, trailing dot trimmed")
        #expect(try !Self.passes("mx.example.org; dmarc=fail header.from=example.org"))
        #expect(try !Self.passes("mx.example.org; dmarc=pass header.from=eu.example.org"), "DMARC's header.from must be exact")
    }

    @Test func dkimPassAlignsRelaxedOnly() throws {
        #expect(try Self.passes("mx.example.org; dkim=pass header.d=example.org"))
        #expect(try Self.passes("mx.example.org; dkim=pass header.d=example.org", sender: "eu.example.org"), "relaxed: a subdomain of d=")
        #expect(try !Self.passes("mx.example.org; dkim=pass header.d=eu.example.org"), "d= a subdomain of the sender's domain does not align")
        #expect(try !Self.passes("mx.example.org; dkim=pass header.d=org"), "a single label aligns with nothing")
        #expect(try !Self.passes("mx.example.org; dkim=neutral header.d=example.org"))
    }

    @Test func lookAlikeDomainsDoNotPass() throws {
        #expect(try !Self.passes("mx.example.org; dkim=pass header.d=example.org.evil.net"))
        #expect(try !Self.passes("mx.example.org; dkim=pass header.d=evil-example.org"))
        #expect(try !Self.passes("mx.example.org; dmarc=pass header.from=example.org.evil.net"))
        #expect(try !Self.passes("mx.example.org; dmarc=pass header.from=evil-example.org"))
        #expect(try !Self.passes("mx.example.org; dmarc=pass header.from=\"example.org.evil.net\""))
        #expect(try !Self.passes("mx.example.org; spf=pass smtp.mailfrom=x@example.org.evil.com"))
        #expect(try !Self.passes("mx.example.org; spf=pass smtp.mailfrom=alice@example.org"), "SPF alone authenticates the envelope, not From")
        #expect(try !Self.passes("mx.example.org; dkim=fail (header.d=example.org) header.d=evil.net"), "a comment is not a property")
        #expect(try !Self.passes("mx.example.org; dkim=pass reason=\"header.d=example.org\" header.d=evil.net"))
    }

    @Test func onlyTheTopmostHeaderFromOurAuthservIDCounts() throws {
        // Ours on top says fail; a header the sender added below claims pass: refused.
        let below = try Self.mail(["mx.example.org; dkim=fail header.d=example.org", "mx.example.org; dmarc=pass header.from=example.org"])
        #expect(SenderAuthentication.check(below, senderDomain: "example.org", authservID: "mx.example.org") == .notPassing)
        // A foreign authserv-id on top, ours (forged, since our MTA would have added its own above) below.
        let foreign = try Self.mail(["mx.evil.net; dmarc=pass header.from=example.org", "mx.example.org; dmarc=pass header.from=example.org"])
        #expect(SenderAuthentication.check(foreign, senderDomain: "example.org", authservID: "mx.example.org") == .foreignAuthservID("mx.evil.net"))
        #expect(try !Self.passes("mx.example.org.evil.net; dmarc=pass header.from=example.org"))
        #expect(try !Self.passes("mx; dmarc=pass header.from=example.org"))
        let none = try Self.mail([])
        #expect(SenderAuthentication.check(none, senderDomain: "example.org", authservID: "mx.example.org") == .noHeader)
    }
}

@Suite struct WebhookCredentialTests {
    // Computed independently with Python's hmac module.
    static let key = Secret("key-3ax6xnjp29jd6fds4gc373sgvjxteol0")
    static let fields = MailgunSignature.Fields(timestamp: "1529006854", token: "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
                                                signature: "b63c0701c4f4b614f272106a1b367c5c3369bcdca664ae73ebd52787e45eef07")
    static let signedAt = Date(timeIntervalSince1970: 1_529_006_854)

    @Test func mailgunSignatureValidForgedStale() {
        #expect(MailgunSignature.sign(timestamp: Self.fields.timestamp, token: Self.fields.token, key: Self.key) == Self.fields.signature)
        #expect(MailgunSignature.verify(Self.fields, key: Self.key, now: Self.signedAt.addingTimeInterval(299), window: .seconds(300)) == nil)
        var forged = Self.fields
        forged.token = "b" + forged.token.dropFirst()
        #expect(MailgunSignature.verify(forged, key: Self.key, now: Self.signedAt, window: .seconds(300)) == .mismatch)
        #expect(MailgunSignature.verify(Self.fields, key: Secret("another-key"), now: Self.signedAt, window: .seconds(300)) == .mismatch)
        #expect(MailgunSignature.verify(Self.fields, key: Self.key, now: Self.signedAt.addingTimeInterval(301), window: .seconds(300)) == .stale)
        #expect(MailgunSignature.verify(Self.fields, key: Self.key, now: Self.signedAt.addingTimeInterval(-301), window: .seconds(300)) == .stale)
        var bad = Self.fields
        bad.timestamp = "soon"
        #expect(MailgunSignature.verify(bad, key: Self.key, now: Self.signedAt, window: .seconds(300)) == .badTimestamp)
        #expect(MailgunSignature.verify(nil, key: Self.key, now: Self.signedAt, window: .seconds(300)) == .missingFields)
    }

    static func mailgunGate() -> InboundMailGate {
        var settings = InboundEmailSettings()
        settings.auth = .mailgun
        settings.mailgunSigningKey = key
        return InboundMailGate(settings: settings)
    }

    static func mailgunForm(_ fields: MailgunSignature.Fields) -> InboundMailRequest {
        let body = "timestamp=\(fields.timestamp)&token=\(fields.token)&signature=\(fields.signature)&recipient=a%40b&body-mime=From%3A+x"
        return InboundMailRequest(contentType: "application/x-www-form-urlencoded", authorization: nil, sendGridSignature: nil,
                                  sendGridTimestamp: nil, body: Array(body.utf8))
    }

    @Test func mailgunReplayIsRefusedWithinTheWindow() throws {
        let gate = Self.mailgunGate()
        let post = try gate.admit(Self.mailgunForm(Self.fields), now: Self.signedAt)
        #expect(post.mime == "From: x" && post.envelopeRecipient == "a@b")
        #expect(throws: InboundMailRefusal.unauthenticated(reason: "Mailgun signature: replayed")) {
            try gate.admit(Self.mailgunForm(Self.fields), now: Self.signedAt.addingTimeInterval(10))
        }
        var forged = Self.fields
        forged.signature = String(repeating: "0", count: 64)
        #expect(throws: InboundMailRefusal.unauthenticated(reason: "Mailgun signature: mismatch")) {
            try Self.mailgunGate().admit(Self.mailgunForm(forged), now: Self.signedAt)
        }
    }

    @Test func replayCacheStaysBounded() {
        let cache = MailgunReplayCache(capacity: 3)
        for index in 0..<10 { #expect(cache.claim("t\(index)", now: Self.signedAt, window: .seconds(300))) }
        #expect(cache.count == 3)
        #expect(!cache.claim("t9", now: Self.signedAt, window: .seconds(300)))
        #expect(cache.claim("t9", now: Self.signedAt.addingTimeInterval(601), window: .seconds(300)), "forgotten after the window")
    }

    @Test func sendGridECDSAValidForgedStale() throws {
        let key = P256.Signing.PrivateKey()
        let body = Array("--b\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nFrom: x\r\n--b--\r\n".utf8)
        let timestamp = "1700000000"
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let signature = try key.signature(for: Array(timestamp.utf8) + body).derRepresentation.base64EncodedString()
        let publicKey = key.publicKey
        #expect(SendGridSignature.verify(body: body, timestamp: timestamp, signature: signature, publicKey: publicKey, now: now, window: .seconds(300)) == nil)
        #expect(SendGridSignature.verify(body: body + [0x20], timestamp: timestamp, signature: signature, publicKey: publicKey, now: now,
                                         window: .seconds(300)) == .mismatch)
        #expect(SendGridSignature.verify(body: body, timestamp: "1700000001", signature: signature, publicKey: publicKey, now: now,
                                         window: .seconds(300)) == .mismatch)
        #expect(SendGridSignature.verify(body: body, timestamp: timestamp, signature: signature, publicKey: P256.Signing.PrivateKey().publicKey,
                                         now: now, window: .seconds(300)) == .mismatch)
        #expect(SendGridSignature.verify(body: body, timestamp: timestamp, signature: signature, publicKey: publicKey,
                                         now: now.addingTimeInterval(301), window: .seconds(300)) == .stale)
        #expect(SendGridSignature.verify(body: body, timestamp: timestamp, signature: "bm90IGEgc2lnbmF0dXJl", publicKey: publicKey, now: now,
                                         window: .seconds(300)) == .badSignature)
        #expect(SendGridSignature.verify(body: body, timestamp: nil, signature: signature, publicKey: publicKey, now: now, window: .seconds(300)) == .missingHeaders)
        // The key as SendGrid shows it (base64 DER) and as PEM both load.
        #expect(InboundEmailSettings.parsePublicKey(publicKey.derRepresentation.base64EncodedString()) == Array(publicKey.derRepresentation))
        #expect(InboundEmailSettings.parsePublicKey(publicKey.pemRepresentation) == Array(publicKey.derRepresentation))
        #expect(InboundEmailSettings.parsePublicKey("bm90IGEga2V5") == nil)
    }

    @Test func bearerAndBasicCompareExactly() {
        let token = Secret("inbound-token-0123")
        #expect(InboundMailCredentials.bearer(authorization: "Bearer inbound-token-0123", token: token))
        #expect(InboundMailCredentials.bearer(authorization: "bearer  inbound-token-0123 ", token: token))
        #expect(!InboundMailCredentials.bearer(authorization: "Bearer inbound-token-012", token: token))
        #expect(!InboundMailCredentials.bearer(authorization: "Basic inbound-token-0123", token: token))
        #expect(!InboundMailCredentials.bearer(authorization: nil, token: token))
        let password = Secret("pa:ss")
        let good = "Basic " + Data("sendgrid:pa:ss".utf8).base64EncodedString()
        #expect(InboundMailCredentials.basic(authorization: good, username: "sendgrid", password: password))
        #expect(!InboundMailCredentials.basic(authorization: "Basic " + Data("sendgrid:pa:sS".utf8).base64EncodedString(), username: "sendgrid", password: password))
        #expect(!InboundMailCredentials.basic(authorization: "Basic " + Data("sendgri:pa:ss".utf8).base64EncodedString(), username: "sendgrid", password: password))
        #expect(!InboundMailCredentials.basic(authorization: "Basic %%%", username: "sendgrid", password: password))
    }
}

@Suite struct InboundMailBoundsTests {
    static func nested(depth: Int) -> String {
        var body = "Content-Type: text/plain\n\napprove\n"
        for level in (0..<depth).reversed() {
            body = "Content-Type: multipart/mixed; boundary=\"b\(level)\"\n\n--b\(level)\n\(body)--b\(level)--\n"
        }
        return "From: alice@example.org\n" + body
    }

    @Test func mimeDepthIsBounded() throws {
        #expect(try InboundMail(raw: Self.nested(depth: 5)).body.hasPrefix("approve"))
        #expect(throws: InboundMailError.tooDeep(limit: 5)) { try InboundMail(raw: Self.nested(depth: 6)) }
        #expect(throws: InboundMailError.tooDeep(limit: 2)) { try InboundMail(raw: Self.nested(depth: 3), limits: .init(maxDepth: 2)) }
    }

    @Test func partCountIsBoundedWhereverTheTextIs() throws {
        func message(parts: Int) -> String {
            let part = "--sep\r\nContent-Type: text/plain\r\n\r\napprove\r\n"
            return "From: a@b\r\nContent-Type: multipart/mixed; boundary=sep\r\n\r\npreamble\r\n"
                + String(repeating: part, count: parts) + "--sep--\r\nepilogue\r\n"
        }
        #expect(try InboundMail(raw: message(parts: 50)).body == "approve")
        #expect(throws: InboundMailError.tooManyParts(limit: 50)) { try InboundMail(raw: message(parts: 51)) }
        #expect(throws: InboundMailError.tooManyParts(limit: 50)) { try InboundMail(raw: message(parts: 100_000)) }
    }

    @Test func headerCountAndSizeAreBounded() {
        let many = String(repeating: "X-A: b\n", count: 501) + "\nbody"
        #expect(throws: InboundMailError.tooManyHeaders(limit: 500)) { try InboundMail(raw: many) }
        let long = "Subject: a\n" + String(repeating: " folded line of text\n", count: 2000) + "\nbody"
        #expect(throws: InboundMailError.headerTooLong(limit: 32 * 1024)) { try InboundMail(raw: long) }
    }

    @Test func auditFieldsAreCappedOnCharacterBoundaries() {
        #expect(AuditField.cap("short") == "short")
        let capped = AuditField.cap(String(repeating: "é", count: 1000))
        #expect(capped.utf8.count <= 200 && capped.hasSuffix("…") && capped.hasPrefix("éé"))
    }

    @Test func refusedMessagesWriteCappedFieldsOnly() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
        let governance = Governance(policies: PolicySet(PolicyEngine(policies: [])), store: store, agents: [], inventory: Infrastructure(),
                                    directory: UserDirectory(), redactor: Redactor(), defaultTTL: .seconds(3600), toolTimeout: .seconds(5),
                                    logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let processor = MailReplyProcessor(governance: governance, store: store, addresses: ApprovalReplyAddress(key: Secret("k-0123456789"), domain: "r.example.org"),
                                           directory: UserDirectory(), authservID: nil)
        let huge = String(repeating: "x", count: 100_000)
        let outcome = await processor.process(raw: "From: \(huge)@example.org\r\nSubject: \(huge)\r\nTo: \(huge)@r.example.org\r\n\r\napprove\r\n")
        guard case .rejected = outcome else { Issue.record("expected a refusal, got \(outcome)"); return }
        _ = await processor.process(raw: Self.nested(depth: 9))
        let events = try await store.audit.events(since: nil, limit: 10).filter { $0.kind == "email_rejected" }
        #expect(events.count == 2)
        for event in events {
            #expect((event.principal ?? "").utf8.count <= 200)
            #expect(event.data.utf8.count < 600, "reason and subject are capped at 200 bytes each")
        }
        #expect(events.last?.data.contains("nests multipart parts more than 5 deep") == true)
        try await store.close()
    }
}

@Suite struct InboundMailPostTests {
    @Test func decodesEachProvidersShape() throws {
        #expect(try InboundMailPost.decode(contentType: "message/rfc822", body: Array("From: a".utf8)) == .raw(mime: "From: a"))
        let mailgun = try InboundMailPost.decode(contentType: "application/x-www-form-urlencoded; charset=utf-8",
                                                 body: Array("body-mime=From%3A+a&recipient=r%40x&timestamp=1&token=t&signature=s".utf8))
        #expect(mailgun == .mailgun(mime: "From: a", recipient: "r@x", signature: .init(timestamp: "1", token: "t", signature: "s")))
        let form = "--XyZ\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nr@x\r\n--XyZ\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nFrom: a\r\n--XyZ--\r\n"
        #expect(try InboundMailPost.decode(contentType: "multipart/form-data; boundary=\"XyZ\"", body: Array(form.utf8)) == .sendGrid(mime: "From: a", recipient: "r@x"))
    }

    @Test func garbageIsAnErrorNotACrash() {
        #expect(throws: InboundMailPostError.malformedForm("bad percent-encoding at byte 0: % must be followed by two hex digits")) {
            try InboundMailPost.decode(contentType: "application/x-www-form-urlencoded", body: Array("%".utf8))
        }
        #expect(throws: InboundMailPostError.noMessage) { try InboundMailPost.decode(contentType: "application/x-www-form-urlencoded", body: []) }
        #expect(throws: InboundMailPostError.self) { try InboundMailPost.decode(contentType: "multipart/form-data; boundary=", body: [0xFF]) }
        #expect(throws: InboundMailPostError.self) { try InboundMailPost.decode(contentType: "multipart/form-data", body: [0xFF]) }
        #expect(throws: InboundMailPostError.self) { try InboundMailPost.decode(contentType: "multipart/form-data; boundary=b", body: [0xFF, 0x2D]) }
        #expect(throws: InboundMailPostError.unsupportedMediaType("application/json")) {
            try InboundMailPost.decode(contentType: "application/json", body: [])
        }
    }
}

@Suite struct InboundEmailConfigurationTests {
    static let replies = "smtp: {reply_domain: r.example.org}\n"
    static let environment = ["HELPDESK_APPROVALS_LINK_KEY": "link-key-0123456789"]

    static func issues(_ yaml: String, environment: [String: String] = Self.environment) -> [ConfigIssue] {
        do {
            _ = try HelpdeskConfiguration(yaml: yaml, file: "test.yaml", environment: environment)
            return []
        } catch {
            return error.issues
        }
    }

    @Test func repliesWithoutInboundAuthDoNotStart() {
        let issues = Self.issues(Self.replies)
        #expect(issues.map(\.description) == ["test.yaml:1: smtp.reply_domain: approval replies by email need inbound_email.auth (one of: "
            + "bearer, basic, mailgun, sendgrid, none) to authenticate POST /webhooks/email"])
        #expect(Self.issues("smtp: {reply_domain: r.example.org}\n", environment: [:]).isEmpty, "no link key: replies are off")
        #expect(Self.issues(Self.replies + "inbound_email: {auth: none}\n").isEmpty, "open, but said so")
    }

    @Test func aMethodWhoseCredentialResolvesToNothingIsAnError() {
        let bearer = Self.issues(Self.replies + "inbound_email: {auth: bearer}\n")
        #expect(bearer.count == 1 && bearer[0].keyPath == "inbound_email.bearer_token_file" && bearer[0].line == 2)
        #expect(Self.issues(Self.replies + "inbound_email: {auth: bearer}\n",
                            environment: Self.environment.merging(["HELPDESK_INBOUND_EMAIL_BEARER_TOKEN": "t"]) { $1 }).isEmpty)
        let basic = Self.issues(Self.replies + "inbound_email:\n  auth: basic\n  basic_auth_username: sendgrid\n")
        #expect(basic.map(\.keyPath) == ["inbound_email.basic_auth_password_file"])
        #expect(Self.issues(Self.replies + "inbound_email: {auth: mailgun}\n").map(\.keyPath) == ["inbound_email.mailgun_signing_key_file"])
        #expect(Self.issues(Self.replies + "inbound_email: {auth: sendgrid, sendgrid_public_key: bm90IGEga2V5}\n").map(\.keyPath)
            == ["inbound_email.sendgrid_public_key"])
        #expect(Self.issues(Self.replies + "inbound_email: {auth: sometimes}\n").map(\.keyPath).contains("inbound_email.auth"))
    }

    @Test func boundsAndWindowAreRead() throws {
        let key = P256.Signing.PrivateKey().publicKey.derRepresentation.base64EncodedString()
        let configuration = try HelpdeskConfiguration(yaml: Self.replies + """
            inbound_email: {auth: sendgrid, sendgrid_public_key: "\(key)", replay_window: 2m, max_mime_depth: 3, max_mime_parts: 9}
            """, file: "test.yaml", environment: Self.environment)
        #expect(configuration.inboundEmail.auth == .sendgrid && configuration.inboundEmail.replayWindow == .seconds(120))
        #expect(configuration.inboundEmail.maxMIMEDepth == 3 && configuration.inboundEmail.maxMIMEParts == 9)
        #expect(configuration.inboundEmail.sendgridPublicKeyDER?.isEmpty == false)
    }
}
