import HelpdeskContent
@testable import HelpdeskGovernance
import HelpdeskTestSupport
import Logging
import Prometheus
import Testing

/// SIGHUP and the file poller reload through one ``PolicyReloader``: one reload at a time, and the
/// set in force is always from the latest read.
@Suite struct PolicyReloaderTests {
    static func file(_ name: String, action: String = "read") -> ContentFile {
        let text = "version: \"1\"\npolicies:\n  - name: \(name)\n    rules:\n      - {action: \(action), effect: allow}\n"
        return ContentFile(kind: .policies, name: "p.yaml", text: text, source: .folder("/policies"))
    }

    static let broken = ContentFile(kind: .policies, name: "p.yaml", text: "version: \"1\"\npolicies: [{name: x, rules: [{effect: perhaps}]}]\n",
                                    source: .folder("/policies"))

    /// What the policy folder holds, changed by the test; one read can be held until released.
    actor Folder {
        var files: [ContentFile]
        var reads = 0
        private var hold: (entered: @Sendable () -> Void, released: AsyncStream<Void>)?
        private var release: AsyncStream<Void>.Continuation?

        init(_ files: [ContentFile]) {
            self.files = files
        }

        func set(_ files: [ContentFile]) { self.files = files }

        /// The next read takes the files as they are, calls `entered`, then waits for ``releaseRead()``.
        func holdNextRead(then entered: @escaping @Sendable () -> Void) {
            let (released, release) = AsyncStream.makeStream(of: Void.self)
            hold = (entered, released)
            self.release = release
        }

        func releaseRead() {
            release?.yield()
        }

        func read() async -> [ContentFile] {
            reads += 1
            let snapshot = files
            if let hold {
                self.hold = nil
                hold.entered()
                for await _ in hold.released { break }
            }
            return snapshot
        }
    }

    static func reloader(_ folder: Folder, _ policies: PolicySet, registry: PrometheusCollectorRegistry = .init()) -> PolicyReloader {
        PolicyReloader(policies: policies, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                       metrics: PrometheusMetricsFactory(registry: registry)) { await folder.read() }
    }

    @Test func aSlowReloadCannotInstallAnOlderSetOverANewerOne() async throws {
        let folder = Folder([Self.file("old")])
        let policies = PolicySet(PolicyEngine(policies: []))
        let reloader = Self.reloader(folder, policies)
        let (entered, enter) = AsyncStream.makeStream(of: Void.self)
        await folder.holdNextRead { enter.yield() }

        // SIGHUP reads the old files and is held there; meanwhile the files change and the poller runs.
        let hangup = Task { await reloader.reload(reason: "SIGHUP") }
        for await _ in entered { break }
        await folder.set([Self.file("new")])
        let poll = Task { await reloader.reload(reason: "files changed", ifChanged: true) }
        #expect(await eventually { reloader.waitingReloads == 1 })
        #expect(await folder.reads == 1, "the poller waits for the reload under way before reading")

        await folder.releaseRead()
        #expect(await hangup.value == .installed(policies: 1))
        #expect(await poll.value == .installed(policies: 1))
        #expect(policies.engine.policies.map(\.name) == ["new"], "the later read is installed last")
        #expect(await reloader.reload(reason: "files changed", ifChanged: true) == .unchanged)
    }

    @Test func thePollerSkipsFilesInForceAndFilesThatFailedButRetriesAfterAChange() async throws {
        let folder = Folder([Self.file("first")])
        let policies = PolicySet(PolicyEngine(policies: []))
        let registry = PrometheusCollectorRegistry()
        let reloader = Self.reloader(folder, policies, registry: registry)
        await reloader.recordFilesInForce()
        #expect(await reloader.reload(reason: "files changed", ifChanged: true) == .unchanged)

        await folder.set([Self.broken])
        #expect(await reloader.reload(reason: "files changed", ifChanged: true) == .failed)
        #expect(await reloader.reload(reason: "files changed", ifChanged: true) == .unchanged, "one failure per change, not one per poll")
        #expect(await reloader.reload(reason: "SIGHUP") == .failed, "SIGHUP always reloads")

        await folder.set([Self.file("second")])
        #expect(await reloader.reload(reason: "files changed", ifChanged: true) == .installed(policies: 1))
        #expect(policies.engine.policies.map(\.name) == ["second"])

        // Back to files already in force after a failure: loaded again, so the gauge says valid.
        await folder.set([Self.broken])
        #expect(await reloader.reload(reason: "files changed", ifChanged: true) == .failed)
        await folder.set([Self.file("second")])
        #expect(await reloader.reload(reason: "files changed", ifChanged: true) == .installed(policies: 1))
        var text: [UInt8] = []
        registry.emit(into: &text)
        let metrics = String(decoding: text, as: UTF8.self)
        #expect(metrics.contains(#"helpdesk_policy_reloads_total{outcome="failed"} 3"#), "\(metrics)")
        #expect(metrics.contains("helpdesk_policy_valid 1"))
    }
}
