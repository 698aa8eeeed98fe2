import ArgumentParser
import Foundation
import HelpdeskJobs
import HelpdeskStore

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "Inspect and re-drive the durable job queue.",
        subcommands: [List.self, Show.self, Retry.self, Selftest.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List jobs, newest first.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "Only jobs in this state: queued, running, done or dead.") var state: JobState?
        @Option(help: "At most this many jobs.") var limit = 50
        @Flag(help: "One JSON object per line instead of a table.") var json = false

        func run() async throws {
            try await withStore(try global.loadConfiguration()) { store in try await run(store) }
        }

        private func run(_ store: any Store) async throws {
            let jobs = try await store.jobs.list(state: state, limit: max(1, limit))
            if json {
                let encoder = JSONEncoder()
                encoder.dateEncodingStrategy = .iso8601
                encoder.outputFormatting = [.sortedKeys]
                for job in jobs { print(String(decoding: try encoder.encode(job), as: UTF8.self)) }
                return
            }
            print(pad("ID", 8) + pad("STATE", 9) + pad("KIND", 18) + pad("ATTEMPTS", 10) + pad("RUN AT", 22) + "LAST ERROR / RESULT")
            for job in jobs {
                let note = job.state == .done ? (job.result ?? "") : (job.lastError ?? "")
                print(pad(String(job.id), 8) + pad(job.state.rawValue, 9) + pad(job.kind, 18) + pad("\(job.attempts)/\(job.maxAttempts)", 10)
                      + pad(job.runAt.formatted(.iso8601), 22) + String(note.prefix(100)))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one job and every attempt at it.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Job id.") var id: Int64

        func run() async throws {
            try await withStore(try global.loadConfiguration()) { store in try await run(store) }
        }

        private func run(_ store: any Store) async throws {
            guard let job = try await store.jobs.job(id: id) else {
                printError(StoreError.jobNotFound(id).description)
                throw ExitCode(1)
            }
            print("job \(job.id) \(job.kind): \(job.state.rawValue), attempt \(job.attempts) of \(job.maxAttempts)")
            print("  payload: \(job.payload)")
            print("  created: \(job.createdAt.formatted(.iso8601))  run at: \(job.runAt.formatted(.iso8601))")
            if let error = job.lastError { print("  last error: \(error)") }
            if let result = job.result { print("  result: \(result)") }
            for run in try await store.jobs.runs(jobID: id) {
                let finished = run.finishedAt.map { $0.formatted(.iso8601) } ?? "-"
                print("  attempt \(run.attempt) by \(run.worker): \(run.outcome?.rawValue ?? "running") (\(run.startedAt.formatted(.iso8601)) → \(finished))"
                      + (run.error.map { " \($0)" } ?? ""))
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put a dead-lettered job back in the queue, due now, with fresh attempts.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Job id.") var id: Int64

        func run() async throws {
            try await withStore(try global.loadConfiguration()) { store in try await run(store) }
        }

        private func run(_ store: any Store) async throws {
            do {
                let job = try await store.jobs.retry(id: id, now: Date())
                print("job \(job.id) (\(job.kind)) queued again" + (job.lastError.map { "; its last error was: \($0)" } ?? ""))
            } catch let error as StoreError {
                printError(error.description)
                throw ExitCode(1)
            }
        }
    }

    struct Selftest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enqueue selftest jobs that a running server's workers should complete.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "How many jobs.") var count = 1
        @Option(name: .customLong("sleep-ms"), help: "How long each job works, in milliseconds.") var sleepMilliseconds = 0
        @Option(help: "Attempts of each job that fail before one succeeds.") var failAttempts = 0

        func run() async throws {
            guard (1...100_000).contains(count), (0...3_600_000).contains(sleepMilliseconds), (0...100).contains(failAttempts) else {
                printError("--count must be 1…100000, --sleep-ms 0…3600000 and --fail-attempts 0…100")
                throw ExitCode(2)
            }
            try await withStore(try global.loadConfiguration()) { store in try await run(store) }
        }

        private func run(_ store: any Store) async throws {
            let job = SelftestJob.job(.init(sleepMilliseconds: sleepMilliseconds, failAttempts: failAttempts))
            let outcome = try await store.apply(ChangeSet(jobs: Array(repeating: job, count: count)))
            let ids = outcome.jobIDs.compactMap { $0 }
            print("enqueued \(ids.count) selftest job(s): \(ids.first.map(String.init) ?? "")…\(ids.last.map(String.init) ?? "")")
        }
    }
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}
