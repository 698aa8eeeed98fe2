import Foundation
import HelpdeskCore
import Testing

/// The redactor over tool outputs: every string, at any depth, keys as they were.
@Suite struct JSONRedactionTests {
    @Test func stringsAreRedactedAtAnyDepthAndKeysAndOtherValuesKept() throws {
        let redactor = Redactor()
        redactor.register([Secret("the-bot-token-value")])
        let output = try JSONValue(parsing: """
            {"queries": [{"pid": 4242, "active": true, "wait": null,
                          "query": "ALTER USER app PASSWORD 'hunter2-pw'",
                          "application": "worker with the-bot-token-value"}],
             "lines": ["connecting to postgres://app:pg-secret-9@db/orders", "ok"],
             "the-bot-token-value": 1}
            """)
        let redacted = redactor.redact(output)
        let query = try #require(redacted["queries"]?.arrayValue?.first)
        #expect(query["pid"] == .number(4242))
        #expect(query["active"] == .bool(true))
        #expect(query["wait"] == .null)
        #expect(query["application"] == .string("worker with <redacted>"))
        #expect(query["query"] == .string("ALTER USER app PASSWORD '<redacted>'"))
        #expect(redacted["lines"] == .array([.string("connecting to postgres://app:<redacted>@db/orders"), .string("ok")]))
        #expect(redacted["the-bot-token-value"] == .number(1), "keys are kept")
    }

    @Test func valuesUnderKeysThatNameASecretAreMaskedWhole() throws {
        let redacted = Redactor().redact(try JSONValue(parsing: """
            {"password": "plainword", "db_password": "x1", "apiKey": "k", "X-Auth-Token": "t", "client_secret": "s",
             "secretName": "db-creds", "token_count": "12", "secretKeyRef": {"name": "api-creds", "key": "password"},
             "user": "app", "empty_password": ""}
            """))
        for key in ["password", "db_password", "apiKey", "X-Auth-Token", "client_secret"] {
            #expect(redacted[key] == .string(Redactor.mask), "\(key)")
        }
        // Names of secrets and counts are not secrets; an empty value hides nothing.
        #expect(redacted["secretName"] == .string("db-creds"))
        #expect(redacted["token_count"] == .string("12"))
        #expect(redacted["secretKeyRef"] == .object(["name": .string("api-creds"), "key": .string("password")]))
        #expect(redacted["user"] == .string("app"))
        #expect(redacted["empty_password"] == .string(""))
    }

    @Test func ordinaryOutputIsUnchanged() throws {
        let output = try JSONValue(parsing: #"{"blockers": [{"pid": 1, "user": "app", "query": "UPDATE accounts SET balance = 1"}]}"#)
        #expect(Redactor().redact(output) == output)
    }

    /// A large output (a full pod log and a capped row set) costs milliseconds, not seconds.
    @Test func fastEnoughForEveryToolOutput() {
        let redactor = Redactor()
        redactor.register((0..<20).map { Secret("registered-secret-number-\($0)") })
        let lines = (0..<1000).map { index in
            JSONValue.string("2026-11-25T12:00:\(index % 60)Z INFO request \(index) served in 12ms path=/api/orders/\(index)")
        }
        let rows = (0..<200).map { index in
            JSONValue.object(["pid": .number(Double(index)), "user": .string("app"), "state": .string("active"),
                              "query": .string("SELECT * FROM orders WHERE id = \(index) AND status = 'open' ORDER BY created_at")])
        }
        let output = JSONValue.object(["lines": .array(lines), "queries": .array(rows), "line_with_key": .string("password=hunter2")])
        // This thread's CPU time, not the wall clock: a loaded test run waits for a core, it does not redact slower.
        let before = threadCPUTime()
        let redacted = redactor.redact(output)
        let elapsed = threadCPUTime() - before
        #expect(redacted["line_with_key"] == .string("password=<redacted>"))
        #expect(redacted["lines"] == output["lines"])
        #expect(elapsed < .milliseconds(500), "took \(elapsed) of CPU")
    }

    private func threadCPUTime() -> Duration {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
    }
}
