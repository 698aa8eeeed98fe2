import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Who holds a job lease: a host, a process on it, and an id drawn when that process started.
///
/// Stored as text, `host:pid:instance`. The instance id tells a restarted process from its
/// predecessor when both got the same pid (a restarted container keeps its host name and often
/// gets the same pid), so a new server can take back its dead predecessor's leases at once.
///
/// ```swift
/// let owner = LeaseOwner.thisProcess          // e.g. "db-bot-1:4242:k3x9q1"
/// LeaseOwner(parsing: "db-bot-1:4242:k3x9q1") // back from the store; nil when malformed
/// ```
public struct LeaseOwner: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var pid: Int32
    public var instance: String

    public init(host: String, pid: Int32, instance: String) {
        self.host = host
        self.pid = pid
        self.instance = instance
    }

    /// Reads a stored owner back. The host may itself contain colons, so the last two fields are
    /// the pid and the instance. Anything else (no pid, a pid ≤ 0, an empty part) is `nil`: an owner
    /// that cannot be read is never treated as gone, and its lease waits for expiry.
    public init?(parsing text: String) {
        guard text.utf8.count <= 1024 else { return nil }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3, let pid = Int32(parts[parts.count - 2]), pid > 0 else { return nil }
        let host = parts.dropLast(2).joined(separator: ":")
        let instance = String(parts[parts.count - 1])
        guard !host.isEmpty, !instance.isEmpty else { return nil }
        self.init(host: host, pid: pid, instance: instance)
    }

    /// The text stored in `jobs.lease_owner` and `job_runs.worker`.
    public var description: String { "\(host):\(pid):\(instance)" }

    /// Whether the process holding a lease of `self` is known to be gone, seen from `current` on the
    /// same host: its pid is not running, or it is our own pid under another instance id (our
    /// predecessor in a restarted container). Leases of other hosts are never judged here.
    public func isOrphaned(seenFrom current: LeaseOwner, isAlive: (Int32) -> Bool) -> Bool {
        guard host == current.host else { return false }
        if pid == current.pid { return instance != current.instance }
        return !isAlive(pid)
    }

    /// This process: one instance id for its whole life, shared by every worker it runs.
    public static let thisProcess = LeaseOwner(
        host: hostName(), pid: Int32(getpid()), instance: String(UInt64.random(in: 0...UInt64.max), radix: 36))

    /// `false` only when the kernel says no such process exists (ESRCH); a process we may not
    /// signal (EPERM) is alive.
    @Sendable public static func processIsRunning(_ pid: Int32) -> Bool {
        guard pid > 0 else { return true }  // 0 and negatives address process groups, not one process
        return kill(pid_t(pid), 0) == 0 || errno != ESRCH
    }

    /// The kernel's host name; unlike Foundation's, never waits on DNS.
    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "unknown-host" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "unknown-host" : name
    }
}
