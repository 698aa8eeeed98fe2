import Foundation
import HelpdeskCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether a backup in a folder was written on the schedule (and is pruned) or by hand (never pruned).
public enum BackupKind: Sendable, Equatable {
    /// `store.backup_schedule`: the newest `store.backup_keep` are kept.
    case scheduled
    /// `helpdesk backup` into a folder: named apart, never counted by `keep` nor deleted.
    case manual
}

/// The files backups are written as: private temporaries renamed into place, and the UTC-stamped
/// names backups in a folder get, which sort by time: `helpdesk-20260314T061500Z.sqlite` (scheduled),
/// `helpdesk-manual-20260314T061500Z.sqlite` (by hand), with `-2`, `-3`, … for more in the same second.
public enum BackupFiles {
    /// A scheduled backup's name can run ahead of the clock by this much and still count; further
    /// ahead (a wrong clock, a planted file) it is ignored, so it cannot hold a `keep` place forever.
    public static let futureSlack: TimeInterval = 86_400

    /// The name the `attempt`th backup of `storePath` taken at `date` gets in a backup folder.
    public static func name(store storePath: String, at date: Date, kind: BackupKind = .scheduled, attempt: Int = 1) -> String {
        prefix(storePath, kind) + stamp(date) + (attempt > 1 ? "-\(attempt)" : "") + ".sqlite"
    }

    /// The time in a scheduled backup's name; `nil` for any other file.
    public static func date(inName name: String, store storePath: String) -> Date? {
        parse(name, store: storePath, kind: .scheduled)?.date
    }

    /// The time and attempt in a name ``name(store:at:kind:attempt:)`` gave for `kind`.
    static func parse(_ name: String, store storePath: String, kind: BackupKind) -> (date: Date, attempt: Int)? {
        let bytes = Array(name.utf8), head = Array(prefix(storePath, kind).utf8), tail = Array(".sqlite".utf8)
        guard bytes.count >= head.count + 16 + tail.count, bytes.starts(with: head), bytes.suffix(tail.count).elementsEqual(tail) else {
            return nil
        }
        let middle = Array(bytes[head.count..<(bytes.count - tail.count)])
        guard let stamped = date(inStamp: Array(middle.prefix(16))) else { return nil }
        let rest = middle.dropFirst(16)
        if rest.isEmpty { return (stamped, 1) }
        // `-2` … `-99`: a second backup within the same second.
        guard rest.first == UInt8(ascii: "-"), (2...3).contains(rest.count), rest.dropFirst().allSatisfy(isDigit),
              rest.dropFirst().first != UInt8(ascii: "0"), let attempt = Int(String(decoding: rest.dropFirst(), as: UTF8.self))
        else { return nil }
        return (stamped, attempt)
    }

    /// The scheduled backups of `storePath` in `directory`, oldest first: regular files only (a
    /// folder or link with such a name is not one), none dated more than ``futureSlack`` after `now`.
    public static func scheduled(in directory: String, store storePath: String, now: Date) -> [(path: String, date: Date)] {
        let latest = now.addingTimeInterval(futureSlack)
        return listed(in: directory, store: storePath, kind: .scheduled).filter { $0.date <= latest }.map { ($0.path, $0.date) }
    }

    /// Scheduled backups named with a time more than ``futureSlack`` after `now`: ignored by `keep`
    /// and by the schedule, and left for someone to look at.
    public static func futureDated(in directory: String, store storePath: String, now: Date) -> [String] {
        let latest = now.addingTimeInterval(futureSlack)
        return listed(in: directory, store: storePath, kind: .scheduled).filter { $0.date > latest }.map { $0.path }
    }

    private static func listed(in directory: String, store storePath: String, kind: BackupKind) -> [(path: String, date: Date, attempt: Int)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name -> (path: String, date: Date, attempt: Int)? in
            guard let parsed = parse(name, store: storePath, kind: kind) else { return nil }
            let path = (directory as NSString).appendingPathComponent(name)
            return isRegularFile(path) ? (path, parsed.date, parsed.attempt) : nil
        }.sorted { ($0.date, $0.attempt) < ($1.date, $1.attempt) }
    }

    /// Deletes all but the newest `keep` scheduled backups, and their manifests; returns the
    /// backups deleted. Manual backups, future-dated names and `.before-restore-*` copies are never touched.
    public static func prune(in directory: String, store storePath: String, keep: Int, now: Date) throws -> [String] {
        let old = scheduled(in: directory, store: storePath, now: now).dropLast(max(keep, 1)).map { $0.path }
        for path in old {
            try removeRegularFile(path)
            try removeRegularFile(BackupManifest.path(for: path))
        }
        return old
    }

    /// `20260314T061500Z`: the UTC time, to the second, in a form that sorts and fits a file name.
    public static func stamp(_ date: Date) -> String {
        let parts = utcCalendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String { (value ?? 0) < 10 ? "0\(value ?? 0)" : "\(value ?? 0)" }
        return "\(parts.year ?? 0)" + two(parts.month) + two(parts.day) + "T" + two(parts.hour) + two(parts.minute) + two(parts.second) + "Z"
    }

    private static func date(inStamp text: [UInt8]) -> Date? {
        guard text.count == 16, text[8] == UInt8(ascii: "T"), text[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            let digits = text[range]
            guard digits.allSatisfy(isDigit) else { return nil }
            return Int(String(decoding: digits, as: UTF8.self))
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
              let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15)
        else { return nil }
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        return utcCalendar.date(from: components)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static var utcCalendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        return calendar
    }

    private static func prefix(_ storePath: String, _ kind: BackupKind) -> String {
        let stem = ((storePath as NSString).lastPathComponent as NSString).deletingPathExtension
        return kind == .manual ? "\(stem)-manual-" : "\(stem)-"
    }

    /// Without following a link (lstat): a folder or a link under a backup's name is never one.
    static func isRegularFile(_ path: String) -> Bool {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType == .typeRegular
    }

    /// Removes `path` when it is a regular file. unlink never follows a link nor removes a folder,
    /// also if one took the file's place since the check.
    static func removeRegularFile(_ path: String) throws {
        guard isRegularFile(path) else { return }
        guard unlink(path) == 0 || errno == ENOENT else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }
}
