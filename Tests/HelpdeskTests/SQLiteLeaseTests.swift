import Foundation
import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// A SQLite file has one server, but commands (`helpdesk secbot`, `helpdesk govbot`) open it beside the
/// server: a lease held by another live process waits for its expiry; one whose holder is gone does not.
@Suite struct SQLiteLeaseTests {
    @Test func aLiveHolderKeepsItsLeaseUntilItExpires() async throws {
        try await withTemporaryStore { store in
            let leases = store.singletons
            let start = Date()
            func take(_ owner: String, after seconds: Double) async throws -> Bool {
                try await leases.acquire("secbot", owner: owner, duration: .seconds(30), now: start.addingTimeInterval(seconds))
            }
            let taken = [try await take("replica-a:7:one", after: 0), try await take("replica-b:7:two", after: 10),
                         try await take("replica-a:7:one", after: 20), try await take("replica-b:7:two", after: 51),
                         try await take("replica-a:7:one", after: 52)]
            #expect(taken == [true, false, true, true, false])
        }
    }

    @Test func aHolderThatIsGoneIsTakenOverAtOnce() async throws {
        try await withTemporaryStore { store in
            let me = LeaseOwner.thisProcess
            func take(_ name: String, _ owner: LeaseOwner) async throws -> Bool {
                try await store.singletons.acquire(name, owner: owner.description, duration: .seconds(600), now: Date())
            }
            // A process of this host that no longer runs (pids this high are not handed out here).
            let gone = LeaseOwner(host: me.host, pid: Int32.max - 1, instance: "crashed")
            // Our own pid under another instance id: our predecessor in a restarted container.
            let predecessor = LeaseOwner(host: me.host, pid: me.pid, instance: "before-restart")
            let taken = [try await take("govbot", gone), try await take("govbot", me),
                         try await take("retention", predecessor), try await take("retention", me)]
            #expect(taken == [true, true, true, true])
            let other = LeaseOwner(host: "another-host", pid: me.pid, instance: "x")
            let refused = try await take("retention", other)
            #expect(!refused, "a live holder on another host keeps it")
        }
    }
}
