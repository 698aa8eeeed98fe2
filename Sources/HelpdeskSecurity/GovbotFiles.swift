import Foundation
import HelpdeskCore

/// Writes reports as JSON files readable by their owner only (mode 0600, in a 0700 folder when it
/// has to be made): a report names people, actions and approvals.
public enum GovbotFiles {
    /// `govbot-20250101T060000Z.json` for the slot of 06:00 UTC on 1 January 2025.
    public static func scheduledName(slot: Date) -> String {
        let parts = utcCalendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: slot)
        let stamp = String(format: "%04d%02d%02dT%02d%02d%02dZ", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0,
                           parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
        return "govbot-\(stamp).json"
    }

    /// Gregorian in UTC: stamps never depend on the host's time zone.
    static var utcCalendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0)!
        return calendar
    }

    /// Writes a scheduled report into `folder` (made owner-only if missing); returns the file's path.
    public static func writeScheduled(_ report: GovbotReport, into folder: String, slot: Date) throws -> String {
        if !FileManager.default.fileExists(atPath: folder) { try createPrivateDirectory(folder) }
        let path = (folder as NSString).appendingPathComponent(scheduledName(slot: slot))
        try write(report, to: path)
        return path
    }

    /// Writes `report` as pretty JSON with sorted keys to `path`, replacing what was there, all at once:
    /// a temporary file beside it (0600 from the start) is renamed over it.
    public static func write(_ report: GovbotReport, to path: String) throws {
        var data = try GovbotReport.encoder.encode(report)
        data.append(UInt8(ascii: "\n"))
        let folder = (path as NSString).deletingLastPathComponent
        let temporary = ((folder.isEmpty ? "." : folder) as NSString)
            .appendingPathComponent(".\((path as NSString).lastPathComponent).tmp-\(randomToken(length: 8))")
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary])
        }
        do {
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: temporary)
            // rename(2) replaces in one step: a reader sees the old report or the new one, never none.
            guard rename(temporary, path) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSUnderlyingErrorKey: POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)])
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }
}
