import Foundation
import HelpdeskContent
import HelpdeskCore
import HelpdeskStore
import Logging
import Metrics
import Synchronization

/// Reads the policy files and installs their policies, one reload at a time.
///
/// A SIGHUP and a file change arriving together must not load side by side: the slower one could
/// install an older set last. Here each reload reads the files only after the one before it has
/// installed (or failed), so the set in force is always from the latest read, and what counts as
/// "in force" for the poller changes only when a set is installed.
///
/// ```swift
/// let reloader = PolicyReloader(content: content, policies: policies, logger: logger, metrics: metrics)
/// await reloader.reload(reason: "SIGHUP")
/// await reloader.reload(reason: "files changed", ifChanged: true)   // the poller
/// ```
public final class PolicyReloader: Sendable {
    public enum Outcome: Sendable, Equatable {
        case installed(policies: Int)
        /// `ifChanged` and the files are those in force, or those the last failed reload read.
        case unchanged
        /// The files do not load; the previous policies stay in force.
        case failed
    }

    private struct State {
        /// The files (location, text, …) of the policies in force; `nil` until known.
        var installed: [String]?
        /// The files the last reload failed on, so the poller does not fail on them every interval.
        var failed: [String]?
        /// Reloads waiting for the one in progress (for tests).
        var waiting = 0
    }

    private let policies: PolicySet
    private let knownTools: Set<String>?
    private let read: @Sendable () async throws -> [ContentFile]
    private let logger: Logger
    private let metrics: any MetricsFactory
    private let recorder: PolicyReloadRecorder?
    private let serial = AsyncSemaphore(permits: 1)
    private let state = Mutex(State())

    /// Reloads `content`'s policy files (`policies.file` or `policies.dir`, else the built-in ones) into
    /// `policies`; the file or folder is read afresh each time, so an edit is seen.
    public convenience init(content: ContentLibrary, policies: PolicySet, knownTools: Set<String>? = nil, logger: Logger,
                            metrics: any MetricsFactory, recorder: PolicyReloadRecorder? = nil) {
        self.init(policies: policies, knownTools: knownTools, logger: logger, metrics: metrics, recorder: recorder) {
            try content.files(.policies)
        }
    }

    /// - Parameters:
    ///   - knownTools: every tool name the server has; a policy naming none of them is logged as a warning.
    ///   - recorder: where each installed reload is written as a `policy_reloaded` audit event; none in tests that need none.
    ///   - read: the policy files in force; tests hand in files of their own.
    public init(policies: PolicySet, knownTools: Set<String>? = nil, logger: Logger, metrics: any MetricsFactory,
                recorder: PolicyReloadRecorder? = nil, read: @escaping @Sendable () async throws -> [ContentFile]) {
        self.recorder = recorder
        self.policies = policies
        self.knownTools = knownTools
        self.read = read
        self.logger = logger
        self.metrics = metrics
    }

    /// Takes the files there now as those in force, without installing anything: the server loaded
    /// the policies at start, and a poller started after that compares against these.
    public func recordFilesInForce() async {
        _ = try? await serial.withPermit {
            let fingerprint = Self.fingerprint(await readFiles())
            state.withLock { $0.installed = fingerprint }
        }
    }

    /// Reads the policy files and installs their policies, after any reload already under way.
    /// - Parameter ifChanged: skip files identical to those in force (unless the last reload failed)
    ///   or to those the last reload failed on; the poller sets it, SIGHUP does not.
    @discardableResult
    public func reload(reason: String, ifChanged: Bool = false) async -> Outcome {
        state.withLock { $0.waiting += 1 }
        do {
            return try await serial.withPermit {
                state.withLock { $0.waiting -= 1 }
                let before = policies.engine
                let outcome = reloadNow(reason: reason, files: await readFiles(), ifChanged: ifChanged)
                // Inside the permit, so the events are in the order the sets were installed.
                if case .installed = outcome, let recorder {
                    await recorder.record(from: before, to: policies.engine, reason: reason, logger: logger)
                }
                return outcome
            }
        } catch {
            // Only waiting for the permit throws, when the task is cancelled (shutdown).
            state.withLock { $0.waiting -= 1 }
            return .unchanged
        }
    }

    var waitingReloads: Int { state.withLock { $0.waiting } }

    private func reloadNow(reason: String, files: Result<[ContentFile], PolicyLoadErrors>, ifChanged: Bool) -> Outcome {
        let fingerprint = Self.fingerprint(files)
        if ifChanged {
            let known = state.withLock { state in
                (state.installed == fingerprint && state.failed == nil) || state.failed == fingerprint
            }
            if known { return .unchanged }
        }
        do {
            let loaded = try PolicyLoader.load(files.get(), knownTools: knownTools)
            policies.replace(with: PolicyEngine(policies: loaded.policies))
            state.withLock { state in
                state.installed = fingerprint
                state.failed = nil
            }
            logger.notice("policies reloaded", metadata: ["reason": "\(reason)", "policies": "\(loaded.policies.count)"])
            // Each reload says them again: they are about the files now in force.
            for warning in loaded.warnings {
                logger.warning("policy file: \(warning)", metadata: ["reason": "\(reason)"])
            }
            let reloads = MetricCatalog.policyReloads
            Counter(label: reloads.name, dimensions: reloads.dimensions("ok"), factory: metrics).increment()
            Gauge(label: MetricCatalog.policyValid.name, factory: metrics).record(1)
            return .installed(policies: loaded.policies.count)
        } catch {
            state.withLock { $0.failed = fingerprint }
            logger.error("policy files are invalid; the previous policies stay in force",
                         metadata: ["reason": "\(reason)", "errors": "\(error)"])
            let reloads = MetricCatalog.policyReloads
            Counter(label: reloads.name, dimensions: reloads.dimensions("failed"), factory: metrics).increment()
            Gauge(label: MetricCatalog.policyValid.name, factory: metrics).record(0)
            return .failed
        }
    }

    /// The files, or why they cannot be read as a load error (a folder that went away, a file too large).
    private func readFiles() async -> Result<[ContentFile], PolicyLoadErrors> {
        do {
            return .success(try await read())
        } catch let error as ContentError {
            return .failure(Self.failure(file: error.path, error.reason))
        } catch {
            return .failure(Self.failure(file: "policies", "\(error)"))
        }
    }

    private static func failure(file: String, _ message: String) -> PolicyLoadErrors {
        PolicyLoadErrors(errors: [PolicyLoader.LoadError(file: file, line: nil, message: message)])
    }

    /// Each file's location and text: a change in any is a change. Contents rather than modification
    /// times, so a Kubernetes ConfigMap update (a swapped symbolic link, the files' times untouched) counts.
    private static func fingerprint(_ files: Result<[ContentFile], PolicyLoadErrors>) -> [String] {
        switch files {
        case .success(let files): files.flatMap { [$0.location, $0.text] }
        case .failure(let error): ["unreadable", error.description]
        }
    }
}
