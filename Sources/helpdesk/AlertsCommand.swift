import ArgumentParser
import Foundation
import HelpdeskCore
import HelpdeskStore

struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Alerts the bot received: every one is stored, storm or not.",
        subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List received alerts, newest first.")

        @OptionGroup var global: GlobalOptions
        @Flag(help: "Only alerts still firing (no resolved notification for the episode yet).") var firing = false
        @Option(help: "Only alerts received within this long (30m, 2h).", transform: { text in
            guard let duration = Duration(parsing: text), duration > .zero else { throw ValidationError("expected a duration such as 30m or 2h, got \"\(text)\"") }
            return duration.seconds
        }) var since: Double?
        @Option(help: "At most this many alerts (1–10000).") var limit = 100
        @Flag(help: "One JSON object per line instead of a table.") var json = false

        func run() async throws {
            try await withStore(try global.loadConfiguration()) { store in try await run(store) }
        }

        private func run(_ store: any Store) async throws {
            let query = AlertQuery(firingOnly: firing, since: since.map { Date().addingTimeInterval(-$0) }, limit: min(max(1, limit), 10_000))
            let alerts = try await store.alerts.list(query)
            if json {
                let encoder = JSONEncoder()
                encoder.dateEncodingStrategy = .iso8601
                encoder.outputFormatting = [.sortedKeys]
                for alert in alerts { print(String(decoding: try encoder.encode(alert), as: UTF8.self)) }
                return
            }
            // FINGERPRINT@RECEIVER is what `/helpdesk silence` takes when several receivers got an alert.
            print(pad("RECEIVED", 22) + pad("STATUS", 10) + pad("SEVERITY", 10) + pad("ALERTNAME", 30) + "FINGERPRINT@RECEIVER")
            // Label text comes from outside: control characters (terminal escapes) are not printed.
            func printable(_ text: String) -> String {
                String(text.unicodeScalars.filter { $0.value >= 0x20 && !(0x7F...0x9F).contains($0.value) }.map(Character.init))
            }
            for alert in alerts {
                print(pad(alert.receivedAt.formatted(.iso8601), 22) + pad(printable(alert.status), 10) + pad(printable(alert.labels["severity"] ?? "-"), 10)
                      + pad(printable(String((alert.labels["alertname"] ?? "-").prefix(28))), 30)
                      + printable(AlertReference(fingerprint: alert.fingerprint, receiver: alert.receiver).description))
            }
        }
    }
}
