import Foundation
@testable import HelpdeskStore
import HelpdeskTestSupport
import PostgresNIO
import Testing

/// The twin of SQLite's plan test: PostgreSQL plans each bound statement with its values, so a lookup by
/// principal of a kind other than requests reads the partial index that leaves requests out.
@Suite struct PostgresAuditPlanTests {
    @Test func principalLookupsOfOtherKindsUseThePartialIndex() async throws {
        let endpoint = try await TemporaryPostgres.newDatabase()
        let store = try await PostgresStore.open(options: TemporaryPostgres.storeOptions(endpoint))
        // Many requests from many people, a decision in a hundred: walking the log back would cost more.
        try await TemporaryPostgres.execute("""
            INSERT INTO audit_events (seq, id, at_us, kind, principal, target, data, prev_hash, hash)
            SELECT n, 'evt_' || n, n, CASE WHEN n % 100 = 0 THEN 'policy_decision' ELSE 'request_received' END,
                   'slack:U' || (n % 1000), 'orders-db', '{}', '', ''
            FROM generate_series(1, 50000) AS n;
            ANALYZE audit_events;
            """, in: endpoint)
        let logger = store.logger
        func plan(_ filter: AuditFilter) async throws -> String {
            let query = PostgresAuditLog.latestQuery(filter, limit: 10)
            return try await store.read { connection in
                try await connection.rows(PostgresQuery(unsafeSQL: "EXPLAIN " + query.sql, binds: query.binds), logger)
                    .map { try $0["QUERY PLAN"].decode(String.self) }.joined(separator: "\n")
            }
        }
        let decisions = try await plan(AuditFilter(principal: "slack:U100", kind: "policy_decision"))
        #expect(decisions.contains("audit_events_principal_kind"), "\(decisions)")
        // The index holds no request: those are found by the bounded walk, never through it.
        let requests = try await plan(AuditFilter(principal: "slack:U101", kind: "request_received"))
        #expect(!requests.contains("audit_events_principal_kind"), "\(requests)")
        #expect(try await store.audit.latest(AuditFilter(principal: "slack:U100", kind: "policy_decision"), limit: 3).map(\.seq)
                == [49100, 48100, 47100])
        try await store.close()
    }
}
