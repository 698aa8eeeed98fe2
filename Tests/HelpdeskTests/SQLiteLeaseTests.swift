import Foundation
import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// A SQLite file has one server, but commands (`helpdesk secbot`, `helpdesk govbot`) open it beside the
/// server: a lease held by another live process of this host waits for its expiry; one whose holder is gone does not.
@Suite struct SQLiteLeaseTests {
    @Test func aLiveHolderKeepsItsLeaseUntilItExpires() async throws {
        try await withTemporaryStore { store in
            let leases = store.singletons
            let start = Date()
            func take(_ owner: String, after seconds: Double) async throws -> Bool {
                try await leases.acquire("secbot", owner: owner, duration: .seconds(30), now: start.addingTimeInterval(seconds))
            }
            // Two live processes of this host: a server and a command beside it.
            let host = LeaseOwner.thisProcess.host
            let server = "\(host):\(LeaseOwner.thisProcess.pid):one", command = "\(host):1:two"
            let taken = [try await take(server, after: 0), try await take(command, after: 10),
                         try await take(server, after: 20), try await take(command, after: 51),
                         try await take(server, after: 52)]
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
            // A holder on another host: the pod this file belonged to before it was rescheduled.
            let elsewhere = LeaseOwner(host: "old-pod-name", pid: 1, instance: "x")
            let takenBack = [try await take("secbot", elsewhere), try await take("secbot", me)]
            #expect(takenBack == [true, true])
        }
    }
}
