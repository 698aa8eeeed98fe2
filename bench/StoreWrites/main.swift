// Store write throughput: many concurrent callers each applying a small change set (what one
// webhook records), through the group-commit writer, against a real SQLite file.
import Foundation
import HelpdeskStore

let arguments = CommandLine.arguments.dropFirst()
func option(_ name: String, _ defaultValue: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), arguments.index(after: index) < arguments.endIndex,
          let value = Int(arguments[arguments.index(after: index)]) else { return defaultValue }
    return value
}
let total = option("--writes", 200_000)
let concurrency = option("--concurrency", 64)
let rowsPerWrite = option("--rows", 3)

let folder = NSTemporaryDirectory() + "helpdesk-bench-\(UUID().uuidString.prefix(8))"
defer { try? FileManager.default.removeItem(atPath: folder) }
let store = try SQLiteStore(options: .init(path: folder + "/bench.sqlite"))
let payload = String(repeating: "x", count: 200)

let started = ContinuousClock.now
let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
    for worker in 0..<concurrency {
        group.addTask {
            var samples: [Double] = []
            var index = worker
            while index < total {
                let jobs = (0..<rowsPerWrite).map { NewJob(kind: "bench", payload: "{\"n\":\(index),\"r\":\($0),\"p\":\"\(payload)\"}") }
                let before = ContinuousClock.now
                try await store.apply(ChangeSet(jobs: jobs))
                let elapsed = ContinuousClock.now - before
                samples.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
                index += concurrency
            }
            return samples
        }
    }
    var all: [Double] = []
    for try await samples in group { all += samples }
    return all.sorted()
}
let elapsed = ContinuousClock.now - started
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let counters = store.writeCounters
try await store.close()

func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
print("store writes: \(total) change sets of \(rowsPerWrite) rows, \(concurrency) concurrent callers")
print(String(format: "  %.0f change sets/s, %.0f rows/s, %.2f s", Double(total) / seconds, Double(total * rowsPerWrite) / seconds, seconds))
print(String(format: "  latency p50 %.2f ms, p99 %.2f ms, max %.2f ms", percentile(0.5), percentile(0.99), latencies.last ?? 0))
print(String(format: "  %d commits, %.1f change sets per commit on average", counters.commits, Double(counters.writes) / Double(max(counters.commits, 1))))
print(String(format: "  peak RSS %.0f MB", Double(usage.ru_maxrss) / 1024))
