/// The folder part of a file path, as `dirname` gives it: `a/b` → `a`, `b` → `.`, `/b` → `/`.
///
/// Not `NSString.deletingLastPathComponent`: Foundation on Linux traps on `.` (found by fuzzing the
/// configuration: `store.path: .` stopped the process).
public func parentFolder(of path: String) -> String {
    var text = Substring(path)
    while text.count > 1, text.hasSuffix("/") { text.removeLast() }
    guard let slash = text.lastIndex(of: "/") else { return "." }
    var folder = text[..<slash]
    while folder.count > 1, folder.hasSuffix("/") { folder.removeLast() }
    return folder.isEmpty ? "/" : String(folder)
}

/// `name` inside `folder`, without doubling a slash.
public func filePath(_ name: String, in folder: String) -> String {
    folder.hasSuffix("/") ? folder + name : folder + "/" + name
}
