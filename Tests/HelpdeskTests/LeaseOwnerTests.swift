import Foundation
import HelpdeskStore
import Testing

@Suite struct LeaseOwnerTests {
    @Test func textFormReadsBack() throws {
        let owner = LeaseOwner(host: "db-bot-1", pid: 4242, instance: "k3x9q1")
        #expect(owner.description == "db-bot-1:4242:k3x9q1")
        #expect(LeaseOwner(parsing: owner.description) == owner)
        #expect(LeaseOwner(parsing: LeaseOwner.thisProcess.description) == LeaseOwner.thisProcess)
    }

    @Test func hostMayContainColons() {
        #expect(LeaseOwner(parsing: "fe80::1:77:abc") == LeaseOwner(host: "fe80::1", pid: 77, instance: "abc"))
    }

    @Test(arguments: ["", "host", "host:12", "host:12:", ":12:abc", "host:pid:abc", "host:0:abc", "host:-3:abc",
                      "host:99999999999:abc", "host: 12:abc", String(repeating: "h", count: 2000) + ":1:a"])
    func malformedOwnersAreNotRead(_ text: String) {
        #expect(LeaseOwner(parsing: text) == nil)
    }

    @Test func thisProcessIsRunningAndAReapedChildIsNot() throws {
        #expect(LeaseOwner.processIsRunning(getpid()))
        #expect(LeaseOwner.thisProcess.pid == getpid())
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        #expect(!LeaseOwner.processIsRunning(child.processIdentifier))
    }
}
