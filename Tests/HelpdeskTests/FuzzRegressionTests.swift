import Crypto
import Foundation
import HelpdeskAlerts
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskMail
import HelpdeskOrchestrator
import HelpdeskSlack
import Testing

/// Replays what the fuzzer found (`Fuzz/regressions/<target>/`) and the seed corpus (`Fuzz/corpus/<target>/`)
/// through the parsers the fuzz targets call, with the same keys, clock and input layout
/// (Fuzz/Sources): every input returns normally, crashers are refused, and the seeds still reach
/// past the signature checks, or the fuzzer would spend its time in front of them.
@Suite struct FuzzRegressionTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let targets = ["form", "slack-interaction", "slack-signature", "alertmanager", "mime", "approval-token",
                          "policy-yaml", "runbook-yaml", "config-yaml"]

    /// Crashers still unfixed in a parser another part of the code owns, and why: replayed all the same,
    /// their crash recorded as a known issue, so this test fails once they are fixed and the entry is stale.
    static let knownCrashes: [String: String] = [:]

    /// Each in a child process, so one that still traps fails this test instead of ending the run. The
    /// child exits 0 when the input is refused (or accepted, for a name starting with `accepted-`), 3 if not.
    @Test(arguments: targets) func everyRegressionInputReturnsNormally(target: String) async throws {
        for (name, bytes) in try Self.inputs("regressions", target) {
            let accepted = name.hasPrefix("accepted-")
            let replay = {
                await #expect(processExitsWith: .success, "Fuzz/regressions/\(target)/\(name)") { [target = target as String, bytes = bytes as [UInt8], accepted = accepted as Bool] in
                    exit(FuzzReplay.run(target, bytes) == accepted ? 0 : 3)
                }
            }
            if let why = Self.knownCrashes["\(target)/\(name)"] {
                await withKnownIssue(Comment(rawValue: why)) { await replay() }
            } else {
                await replay()
            }
        }
    }

    @Test func regressionFoldersNameRealTargets() throws {
        let folder = Self.repositoryRoot.appendingPathComponent("Fuzz/regressions").path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        for name in names where !name.hasPrefix(".") && name != "README.md" {
            #expect(Self.targets.contains(name), "Fuzz/regressions/\(name) is not a fuzz target, so nothing replays it")
        }
    }

    @Test(arguments: targets) func everyTargetHasSeeds(target: String) throws {
        #expect(try !Self.inputs("corpus", target).isEmpty)
    }

    @Test func signedSeedsPassTheirChecksAndTheOthersAreRefused() throws {
        let expected: [String: [String: Bool]] = [
            "slack-signature": ["command": true, "interaction": true, "self-signed": true, "empty-body": true, "forged": false, "stale": false],
            "approval-token": ["valid": true, "signed-claims": true, "other-approval": false, "expired": false, "forged": false,
                               "signed-bad-claims": false],
            "slack-interaction": ["approve": true, "deny": true, "run-action": true, "view-submission": false],
            "alertmanager": ["firing": true, "resolved": true, "group": true, "kubernetes": true, "version-3": false],
            "mime": ["rfc822-plain": true, "rfc822-qp": true, "rfc822-alternative": true, "rfc822-nested": true, "auto-reply": true,
                     "mailgun-form": true, "sendgrid-multipart": true, "unsupported": false],
        ]
        for (target, seeds) in expected {
            let inputs = Dictionary(uniqueKeysWithValues: try Self.inputs("corpus", target))
            for (name, accepted) in seeds {
                let bytes = try #require(inputs[name], "Fuzz/corpus/\(target)/\(name) is missing")
                #expect(FuzzReplay.run(target, bytes) == accepted, "Fuzz/corpus/\(target)/\(name)")
            }
        }
    }

    @Test(arguments: ["form", "policy-yaml", "runbook-yaml", "config-yaml"]) func realFilesInTheCorpusParse(target: String) throws {
        // The example names secret files that do not exist here; its copy without them must parse.
        for (name, bytes) in try Self.inputs("corpus", target) where !["bad-escape", "not-utf8", "helpdesk.example.yaml"].contains(name) {
            #expect(FuzzReplay.run(target, bytes) == true, "Fuzz/corpus/\(target)/\(name)")
        }
    }

    /// The files of `Fuzz/<kind>/<target>/`, by name; none when the folder does not exist.
    static func inputs(_ kind: String, _ target: String) throws -> [(String, [UInt8])] {
        let folder = repositoryRoot.appendingPathComponent("Fuzz/\(kind)/\(target)")
        guard FileManager.default.fileExists(atPath: folder.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix(".") }.sorted().map {
            ($0, Array(try Data(contentsOf: folder.appendingPathComponent($0))))
        }
    }
}

/// The fuzz targets' calls, each answering whether the input was accepted (`nil`: no such target).
enum FuzzReplay {
    static let now = Date(timeIntervalSince1970: 1_767_225_600)

    static func run(_ target: String, _ bytes: [UInt8]) -> Bool? {
        let text = String(decoding: bytes, as: UTF8.self)
        switch target {
        case "form":
            _ = CommandRequest(text: text)
            return (try? decodeForm(bytes)).map { SlashCommand(fields: $0).map { _ = CommandRequest(text: $0.text) }; return true } ?? false
        case "slack-interaction":
            guard let fields = try? decodeForm(bytes), let payload = fields["payload"].flatMap({ try? JSONValue(parsing: $0) }) else { return false }
            return BlockAction(payload: payload) != nil
        case "slack-signature": return slackSignature(bytes)
        case "alertmanager": return (try? AlertmanagerPayload.parse(Data(bytes))) != nil
        case "mime": return mime(bytes)
        case "approval-token": return approvalToken(bytes)
        case "policy-yaml": return (try? PolicyLoader.parse(yaml: text, file: "fuzz.yaml")) != nil
        case "runbook-yaml": return (try? RunbookLoader.parse(yaml: text, file: "fuzz.yaml")) != nil
        case "config-yaml":
            let environment = ["SLACK_SIGNING_SECRET": "s3cret-signing", "HELPDESK_API_OPS_AUTOMATION_TOKEN": "token-1234",
                               "HELPDESK_ALERTMANAGER_HELPDESK_BEARER_TOKEN": "am-token-1234"]
            return (try? HelpdeskConfiguration(yaml: text, file: "fuzz.yaml", environment: environment)) != nil
        default: return nil
        }
    }

    /// Mode byte (odd: sign the body here), timestamp line, signature line, body.
    static func slackSignature(_ bytes: [UInt8]) -> Bool {
        var lines = Lines(bytes)
        let selfSigned = lines.mode() & 1 == 1
        let timestamp = lines.next()
        var signature = lines.next()
        if selfSigned, let timestamp {
            signature = SlackSignature.sign(body: lines.rest, timestamp: timestamp, secret: Secret("fuzz-signing-secret"))
        }
        return SlackSignature.verify(body: lines.rest, timestamp: timestamp, signature: signature, secret: Secret("fuzz-signing-secret"), now: now) == nil
    }

    /// Content-Type line, Authorization line, body: accepted when the post decodes into a message. A body
    /// that is no post is still read as a message, as `helpdesk mail-ingest` reads what Postfix pipes to it.
    static func mime(_ bytes: [UInt8]) -> Bool {
        var lines = Lines(bytes)
        let contentType = lines.next() ?? ""
        _ = lines.next()
        guard let post = try? InboundMailPost.decode(contentType: contentType, body: Array(lines.rest)) else {
            _ = try? InboundMail(raw: String(decoding: lines.rest, as: UTF8.self))
            return false
        }
        guard let mail = try? InboundMail(raw: post.mime) else { return false }
        if case .mailgun = post, MailgunSignature.verify(post.mailgunFields, key: Secret("fuzz-mailgun-key"), now: now, window: .seconds(300)) != nil {
            return false
        }
        _ = SenderAuthentication.check(mail, senderDomain: "example.org", authservID: "mx.example.org")
        return mail.firstReplyLine != nil || mail.isAutomatic
    }

    /// Mode byte, approval id line, then a token line and a CSRF line (even) or claims the key signs here (odd).
    static func approvalToken(_ bytes: [UInt8]) -> Bool {
        var lines = Lines(bytes)
        let signHere = lines.mode() & 1 == 1
        let approvalID = lines.next() ?? ""
        let key = Secret("fuzz-approval-link-key")
        let links = ApprovalLinks(key: key)
        let token: String
        var csrfPasses = true
        if signHere {
            let claims = Data(lines.rest)
            let code = HMAC<SHA256>.authenticationCode(for: claims, using: SymmetricKey(data: Array(key.reveal().utf8)))
            token = base64URL(claims) + "." + base64URL(Data(code))
        } else {
            token = lines.next() ?? ""
            csrfPasses = links.verifyCSRF(lines.next() ?? "", token: token)
        }
        return (try? links.verify(token, approvalID: approvalID, now: now)) != nil && csrfPasses
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The fuzz targets' input layout: a mode byte, then newline-separated fields, then the rest.
    struct Lines {
        var rest: ArraySlice<UInt8>
        init(_ bytes: [UInt8]) { rest = bytes[...] }

        mutating func mode() -> UInt8 {
            defer { rest = rest.dropFirst() }
            return rest.first ?? 0
        }

        mutating func next() -> String? {
            guard !rest.isEmpty else { return nil }
            let end = rest.firstIndex(of: UInt8(ascii: "\n")) ?? rest.endIndex
            defer { rest = end < rest.endIndex ? rest[(end + 1)...] : rest[end...] }
            return String(decoding: rest[..<end], as: UTF8.self)
        }
    }
}
