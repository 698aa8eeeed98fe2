import Foundation
import HelpdeskAlerts
import HelpdeskConfig
import HelpdeskCore
import HelpdeskHTTPClient
import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// Parsers and limits that see outside bytes: malformed input is an error value, never a trap.
@Suite struct HostileInputTests {
    @Test func formDecodesPlusPercentAndRepeats() throws {
        let fields = try decodeForm(Array("a=1&text=hello+world%21&a=2&empty=&flag&=nameless".utf8))
        #expect(fields == ["a": "2", "text": "hello world!", "empty": "", "flag": ""])
        #expect(try decodeForm([UInt8]()) == [:])
        #expect(try decodeForm(Array("&&&".utf8)) == [:])
        #expect(try decodeForm(Array("caf%C3%A9=%E2%9C%93".utf8)) == ["café": "✓"])
        // Unescaped bytes take the path without the scratch buffer: still validated as UTF-8.
        #expect(try decodeForm(Array("café=naïve&r=%EF%BF%BD".utf8)) == ["café": "naïve", "r": "\u{FFFD}"])
    }

    @Test func malformedPercentEscapesAreReportedNotTrapped() {
        #expect(throws: FormDecodingError.badPercentEscape(offset: 0)) { try decodeForm(Array("%".utf8)) }
        #expect(throws: FormDecodingError.badPercentEscape(offset: 2)) { try decodeForm(Array("a=%4".utf8)) }
        #expect(throws: FormDecodingError.badPercentEscape(offset: 4)) { try decodeForm(Array("x=1&%zz=2".utf8)) }
        #expect(throws: FormDecodingError.notUTF8(offset: 2)) { try decodeForm(Array("a=%FF%FE".utf8)) }
        #expect(throws: FormDecodingError.notUTF8(offset: 2)) { try decodeForm(Array("a=".utf8) + [0xFF, 0x41]) }
        #expect(throws: FormDecodingError.notUTF8(offset: 0)) { try decodeForm([0xC3] + Array("=x".utf8)) }
        // The lenient form treats a malformed body as one without fields.
        #expect(parseForm("%") == [:])
        #expect(parseForm("payload=%E0%A4%A") == [:])
    }

    @Test func retryAfterIsClampedAndNeverTraps() {
        #expect(RetryAfter.parse("120") == .seconds(120))
        #expect(RetryAfter.parse(" 1.5 ") == .milliseconds(1500))
        #expect(RetryAfter.parse("-5") == .zero)
        #expect(RetryAfter.parse("1e300") == RetryAfter.ceiling)
        #expect(RetryAfter.parse("inf") == nil)
        #expect(RetryAfter.parse("soon") == nil)
        #expect(RetryAfter.parse(nil) == nil)
        let now = Date(timeIntervalSince1970: 1_700_000_000)  // Tue, 14 Nov 2023 22:13:20 GMT
        #expect(RetryAfter.parse("Tue, 14 Nov 2023 22:14:20 GMT", now: now) == .seconds(60))
        #expect(RetryAfter.parse("Tue, 14 Nov 2023 22:00:00 GMT", now: now) == .zero)
    }

    @Test func onlyTrustedProxiesNameTheCaller() throws {
        let configuration = try HelpdeskConfiguration(yaml: "server:\n  trusted_proxies: [10.0.0.0/8, \"fd00::/8\"]\n", file: "t.yaml")
        let proxies = configuration.server.trustedProxies
        #expect(proxies.clientAddress(peer: "203.0.113.9", forwardedFor: ["1.2.3.4"]) == "203.0.113.9", "an untrusted peer's header is ignored")
        #expect(proxies.clientAddress(peer: "10.1.2.3", forwardedFor: ["198.51.100.7, 10.9.9.9"]) == "198.51.100.7")
        #expect(proxies.clientAddress(peer: "10.1.2.3", forwardedFor: ["6.6.6.6, 198.51.100.7"]) == "198.51.100.7",
                "the right-most untrusted hop, not whatever the client wrote first")
        #expect(proxies.clientAddress(peer: "fd12::1", forwardedFor: ["2001:db8::5"]) == "2001:db8::5")
        #expect(proxies.clientAddress(peer: "10.1.2.3", forwardedFor: ["not-an-ip"]) == "10.1.2.3")
        #expect(TrustedProxies().clientAddress(peer: "10.1.2.3", forwardedFor: ["1.2.3.4"]) == "10.1.2.3")
        let bad = issues("server:\n  trusted_proxies: [10.0.0.0/33, example.org]\n")
        #expect(bad.count == 2 && bad.allSatisfy { $0.keyPath == "server.trusted_proxies" })
    }

    @Test func oneBucketPerCallerHoweverItsAddressIsWritten() throws {
        #expect(TrustedProxies.bucketKey("::ffff:10.0.0.1") == "10.0.0.1")
        #expect(TrustedProxies.bucketKey("2001:DB8::1") == TrustedProxies.bucketKey("2001:db8:0:0:ffff::2"), "one bucket per /64")
        #expect(TrustedProxies.bucketKey("2001:db8:0:1::1") != TrustedProxies.bucketKey("2001:db8:0:2::1"))
        #expect(TrustedProxies.hostPart(" 1.2.3.4:80 ") == "1.2.3.4")
        #expect(TrustedProxies.hostPart("[2001:db8::1]:443") == "2001:db8::1")
        #expect(TrustedProxies.hostPart("2001:db8::1") == "2001:db8::1")
        let configuration = try HelpdeskConfiguration(yaml: "server:\n  trusted_proxies: [10.0.0.0/8]\n", file: "t.yaml")
        #expect(configuration.server.trustedProxies.clientAddress(peer: "::ffff:10.1.2.3", forwardedFor: ["198.51.100.7:5555"]) == "198.51.100.7",
                "a dual-stack listener sees IPv4 proxies as mapped addresses")
    }

    @Test func serverLimitsAreReadAndChecked() throws {
        let configuration = try HelpdeskConfiguration(yaml: """
            server:
              request_read_timeout: 5s
              idle_timeout: 20s
              max_connections: 64
              admin_listen: 127.0.0.1:9090
              unauthenticated_per_minute: 10
            """, file: "t.yaml")
        #expect(configuration.server.requestReadTimeout == .seconds(5))
        #expect(configuration.server.idleTimeout == .seconds(20))
        #expect(configuration.server.maxConnections == 64)
        #expect(configuration.server.adminListen?.description == "127.0.0.1:9090")
        #expect(configuration.server.unauthenticatedPerMinute == 10)
        #expect(issues("server:\n  tls_cert_file: /x.crt\n").map(\.keyPath) == ["server.tls_cert_file"])
        #expect(issues("server:\n  admin_listen: nowhere\n").map(\.keyPath) == ["server.admin_listen"])
    }

    @Test func aNulFromOutsideCannotBreakTheAuditChain() async throws {
        let folder = try TemporaryDirectory()
        let store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
        try await store.apply(ChangeSet(audit: [AuditDraft(kind: "request_received", principal: "anonymous:slack:U\0X", target: "prod\0db",
                                                           data: .object(["text": .string("a\0b")]))]))
        let verification = try await store.audit.verify()
        #expect(verification.ok, "\(verification)")
        #expect(try await store.audit.events(since: nil, limit: 10).first?.principal == "anonymous:slack:U\u{FFFD}X")
        try await store.close()
        folder.remove()
    }

    // MARK: Alertmanager receivers must be authenticated or explicitly open

    private func issues(_ yaml: String, environment: [String: String] = [:]) -> [ConfigIssue] {
        configurationIssues(yaml, file: "t.yaml", environment: environment)
    }

    @Test func receiverWhoseTokenResolvesToNothingIsRefusedWithItsLine() {
        let found = issues("alertmanager:\n  receivers:\n    helpdesk:\n      channel: \"#alerts\"\n")
        #expect(found.count == 1)
        #expect(found.first?.keyPath == "alertmanager.receivers.helpdesk")
        #expect(found.first?.line == 4)
        #expect(found.first?.message.contains("HELPDESK_ALERTMANAGER_HELPDESK_BEARER_TOKEN") == true)
        #expect(found.first?.message.contains("auth: none") == true)
    }

    @Test func usernameWithoutPasswordIsRefused() {
        let found = issues("alertmanager:\n  receivers:\n    am:\n      basic_auth_username: alertmanager\n")
        #expect(found.map(\.keyPath) == ["alertmanager.receivers.am.basic_auth_username"])
        #expect(found.first?.message.contains("HELPDESK_ALERTMANAGER_AM_BASIC_AUTH_PASSWORD") == true)
    }

    @Test func explicitlyOpenAndCredentialedReceiversLoad() throws {
        let configuration = try HelpdeskConfiguration(yaml: """
            alertmanager:
              receivers:
                lab: {auth: none}
                prod: {channel: C1}
                basic: {basic_auth_username: am}
            """, file: "t.yaml", environment: [
                "HELPDESK_ALERTMANAGER_PROD_BEARER_TOKEN": "token-prod-123",
                "HELPDESK_ALERTMANAGER_BASIC_BASIC_AUTH_PASSWORD": "pw-basic-123",
            ])
        let byName = Dictionary(uniqueKeysWithValues: configuration.alertmanager.receivers.map { ($0.name, $0.credentials) })
        guard case .none? = byName["lab"], case .bearer(let token)? = byName["prod"], case .basic(let user, _)? = byName["basic"] else {
            Issue.record("unexpected credentials: \(byName)")
            return
        }
        #expect(token.reveal() == "token-prod-123")
        #expect(user == "am")
        #expect(issues("alertmanager:\n  receivers:\n    lab: {auth: none}\n",
                       environment: ["HELPDESK_ALERTMANAGER_LAB_BEARER_TOKEN": "t-123456"]).map(\.keyPath)
                == ["alertmanager.receivers.lab.auth"], "open and credentialed at once is a contradiction")
        #expect(issues("alertmanager:\n  receivers:\n    x: {auth: bearer}\n").first?.message.contains("auth: bearer is set") == true)
    }
}

@Suite struct NULCharacterTests {
    @Test func aNotificationCarryingNULIsRefusedAsMalformed() {
        let body = #"{"version":"4","groupKey":"g","status":"firing","receiver":"r","groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"","alerts":[{"status":"firing","labels":{"alertname":"A\u0000B"},"annotations":{},"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"f1"}]}"#
        #expect {
            try AlertmanagerPayload.parse(Data(body.utf8))
        } throws: { error in
            "\(error)".contains("NUL")
        }
    }

    @Test func anEscapedBackslashBeforeU0000IsText() throws {
        let body = #"{"version":"4","groupKey":"g","status":"firing","receiver":"r","groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"","alerts":[{"status":"firing","labels":{"alertname":"A\\u0000B"},"annotations":{},"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"f1"}]}"#
        let payload = try AlertmanagerPayload.parse(Data(body.utf8))
        #expect(payload.alerts.first?.labels["alertname"] == #"A\u0000B"#)
    }
}
