import Foundation
import HelpdeskCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The files backups are written as: private temporaries renamed into place, and the UTC-stamped
/// names of scheduled backups (`helpdesk-20260314T061500Z.sqlite`), which sort by time.
public enum BackupFiles {
    /// The name a backup of `storePath` taken at `date` gets in a backup folder.
    public static func timestampedName(store storePath: String, at date: Date) -> String {
        "\(stem(storePath))-\(stamp(date)).sqlite"
    }

    /// The time in a name ``timestampedName(store:at:)`` gave; `nil` for any other file.
    public static func date(inName name: String, store storePath: String) -> Date? {
        let prefix = "\(stem(storePath))-"
        let suffix = ".sqlite"
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count == prefix.count + 16 + suffix.count else { return nil }
        let text = Array(name.dropFirst(prefix.count).dropLast(suffix.count))
        guard text[8] == "T", text[15] == "Z" else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            let digits = text[range]
            guard digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(String(digits))
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
              let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15)
        else { return nil }
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        return utcCalendar.date(from: components)
    }

    /// The scheduled backups of `storePath` in `directory`, oldest first.
    public static func scheduled(in directory: String, store storePath: String) -> [(path: String, date: Date)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name in
            date(inName: name, store: storePath).map { (path: (directory as NSString).appendingPathComponent(name), date: $0) }
        }.sorted { $0.date < $1.date }
    }

    /// Deletes all but the newest `keep` scheduled backups; returns the paths deleted.
    public static func prune(in directory: String, store storePath: String, keep: Int) throws -> [String] {
        let backups = scheduled(in: directory, store: storePath)
        let old = backups.dropLast(max(keep, 1)).map { $0.path }
        for path in old { try FileManager.default.removeItem(atPath: path) }
        return old
    }

    /// `20260314T061500Z`: the UTC time, to the second, in a form that sorts and fits a file name.
    public static func stamp(_ date: Date) -> String {
        let parts = utcCalendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String { (value ?? 0) < 10 ? "0\(value ?? 0)" : "\(value ?? 0)" }
        return "\(parts.year ?? 0)" + two(parts.month) + two(parts.day) + "T" + two(parts.hour) + two(parts.minute) + two(parts.second) + "Z"
    }

    private static var utcCalendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        return calendar
    }

    private static func stem(_ storePath: String) -> String {
        ((storePath as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    /// A new empty file beside `destination`, readable by its owner only (SQLite gives the files it
    /// creates beside it the same mode).
    static func createPrivateTemporary(beside destination: String) throws(BackupError) -> String {
        let name = ".\((destination as NSString).lastPathComponent).tmp-\(randomToken(length: 8))"
        let path = (folder(of: destination) as NSString).appendingPathComponent(name)
        let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .unwritable(path: destination, reason: String(cString: strerror(errno))) }
        _ = close(descriptor)
        return path
    }

    /// Gives the finished copy its name. Without `overwrite` a hard link is made, which never
    /// replaces a file that appeared while the copy ran.
    static func publish(_ temporary: String, as destination: String, overwrite: Bool) throws(BackupError) {
        var linked = false
        if !overwrite { linked = try hardLink(temporary, destination) }
        if linked {
            _ = unlink(temporary)
        } else {
            guard rename(temporary, destination) == 0 else {
                throw .unwritable(path: destination, reason: String(cString: strerror(errno)))
            }
        }
        syncDirectory(of: destination)
    }

    /// `true` when linked; throws when `destination` exists; `false` where the filesystem has no hard
    /// links (the check made before the copy then has to do).
    private static func hardLink(_ source: String, _ destination: String) throws(BackupError) -> Bool {
        if link(source, destination) == 0 { return true }
        if errno == EEXIST { throw .exists(path: destination) }
        if FileManager.default.fileExists(atPath: destination) { throw .exists(path: destination) }
        return false
    }

    /// So the new name survives a power loss, not only the file's contents.
    private static func syncDirectory(of path: String) {
        let descriptor = open(folder(of: path), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        _ = close(descriptor)
    }

    private static func folder(of path: String) -> String {
        let parent = (path as NSString).deletingLastPathComponent
        return parent.isEmpty ? "." : parent
    }

    /// Removes a copy that did not finish, and any journal SQLite left beside it.
    static func remove(_ path: String) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: path + suffix)
        }
    }
}
