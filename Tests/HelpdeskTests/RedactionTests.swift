import Foundation
import HelpdeskCore
import Logging
import Synchronization
import Testing

@Suite struct RedactionTests {
    @Test func registeredSecretsAreMaskedAnywhere() {
        let redactor = Redactor()
        redactor.register([Secret("correct-horse-battery"), Secret("abc")])
        #expect(redactor.redact("signing with correct-horse-battery now") == "signing with <redacted> now")
        // Too short to mask without hiding ordinary words.
        #expect(redactor.redact("abc") == "abc")
    }

    @Test(arguments: [
        ("token xoxb-1234-5678-abcdefgh posted", "token <redacted> posted"),
        ("key sk-ant-api03-abcdefghijklmnopqrstuv end", "key <redacted> end"),
        ("postgres://app:hunter2@db.example.org:5432/orders", "postgres://app:<redacted>@db.example.org:5432/orders"),
        ("host=db port=5432 user=app password=hunter2 dbname=orders", "host=db port=5432 user=app password=<redacted> dbname=orders"),
        ("Authorization: Bearer abcdefghijklmnop", "Authorization: Bearer <redacted>"),
        (#"{"api_key": "abc123def456"}"#, #"{"api_key": "<redacted>"}"#),
        ("SLACK_SIGNING_SECRET=8f742231b10e8888abcd99yyyzzz85a5", "SLACK_SIGNING_SECRET=<redacted>"),
        // The cheap pre-check must let each of these through to its rule.
        ("app token xapp-1-A0B1C2-123456-abcdef here", "app token <redacted> here"),
        ("AUTHORIZATION: BEARER abcdefghijklmnop", "AUTHORIZATION: BEARER <redacted>"),
        ("passwd=hunter2 and more", "passwd=<redacted> and more"),
        ("é then password=hunter2", "é then password=<redacted>"),
    ])
    func secretPatternsAreMasked(input: String, expected: String) {
        #expect(Redactor().redact(input) == expected)
    }

    /// A key prefix inside a word is not a key: backup names (`helpdesk-2026…`) were logged as
    /// `helpde<redacted>.sqlite`.
    @Test(arguments: [
        ("store backed up file=/var/backups/helpdesk-20261204T061500Z.sqlite", "store backed up file=/var/backups/helpdesk-20261204T061500Z.sqlite"),
        ("desk-abcdefghijklmnopqrstuv fooxoxb-1234-5678 mapxapp-1-A0B1C2", "desk-abcdefghijklmnopqrstuv fooxoxb-1234-5678 mapxapp-1-A0B1C2"),
        ("key sk-abcdefghijklmnopqrstuv end", "key <redacted> end"),
        ("sk-abcdefghijklmnopqrstuv at the start", "<redacted> at the start"),
        ("(xoxb-1234-5678-abcdefgh)", "(<redacted>)"),
        ("OPENAI_KEY_sk-abcdefghijklmnopqrstuv", "OPENAI_KEY_<redacted>"),
        ("url?q=a%3Dsk-abcdefghijklmnopqrstuv", "url?q=a%3D<redacted>"),
    ])
    func keyPrefixesMatchOnlyAtATokenStart(input: String, expected: String) {
        #expect(Redactor().redact(input) == expected)
    }

    @Test func ordinaryTextIsUntouched() {
        let text = "diagnosis of prod-db finished: 3 findings, 12 tools run"
        #expect(Redactor().redact(text) == text)
    }

    @Test func secretDescribesItselfRedacted() {
        let secret = Secret("xoxb-very-secret")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
    }

    @Test func logHandlerRedactsMessageAndMetadataInBothFormats() throws {
        let lines = Mutex<[String]>([])
        let redactor = Redactor()
        redactor.register([Secret("the-signing-secret")])
        for format in LogFormat.allCases {
            var logger = Logger(label: "test") { label in
                HelpdeskLogHandler(label: label, format: format, level: .info, redactor: redactor) { line in lines.withLock { $0.append(line) } }
            }
            logger[metadataKey: "request_id"] = "r-1"
            logger.info("verifying with the-signing-secret", metadata: ["dsn": "postgres://u:pw123@h/db"])
            logger.debug("below the level")
        }
        let written = lines.withLock { $0 }
        #expect(written.count == 2)
        for line in written {
            #expect(!line.contains("the-signing-secret"))
            #expect(!line.contains("pw123"))
            #expect(line.contains("r-1"))
        }
        let json = try JSONSerialization.jsonObject(with: Data(written[1].utf8)) as? [String: String]
        #expect(json?["msg"] == "verifying with <redacted>")
        #expect(json?["dsn"] == "postgres://u:<redacted>@h/db")
        #expect(json?["level"] == "info")
    }
}
