import Foundation

/// Builds a POSIX ustar archive in memory: regular files only, which is all a bundle holds.
public struct TarArchive {
    private(set) var data = Data()

    public init() {}

    public enum TarError: Error, CustomStringConvertible {
        case nameTooLong(String)

        public var description: String {
            switch self {
            case .nameTooLong(let name): "archive member name over 100 bytes: \(name)"
            }
        }
    }

    public mutating func addFile(_ name: String, contents: Data, modified: Date) throws {
        let nameBytes = Array(name.utf8)
        guard nameBytes.count <= 100 else { throw TarError.nameTooLong(name) }
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: [UInt8], at offset: Int) {
            for (index, byte) in bytes.enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int, width: Int) -> [UInt8] {
            // width-1 zero-padded octal digits and a NUL.
            Array(String(value, radix: 8).leftPadded(to: width - 1).utf8) + [0]
        }
        put(nameBytes, at: 0)
        put(octal(0o644, width: 8), at: 100)
        put(octal(0, width: 8), at: 108)
        put(octal(0, width: 8), at: 116)
        put(octal(contents.count, width: 12), at: 124)
        put(octal(Int(modified.timeIntervalSince1970), width: 12), at: 136)
        put(Array(repeating: UInt8(ascii: " "), count: 8), at: 148)
        header[156] = UInt8(ascii: "0")
        put(Array("ustar\0".utf8), at: 257)
        put(Array("00".utf8), at: 263)
        put(Array("helpdesk".utf8), at: 265)
        put(Array("helpdesk".utf8), at: 297)
        let checksum = header.reduce(0) { $0 + Int($1) }
        put(Array(String(checksum, radix: 8).leftPadded(to: 6).utf8) + [0, UInt8(ascii: " ")], at: 148)
        data.append(contentsOf: header)
        data.append(contents)
        let padding = (512 - contents.count % 512) % 512
        data.append(contentsOf: [UInt8](repeating: 0, count: padding))
    }

    /// The archive with its two closing zero blocks.
    public func finished() -> Data {
        data + Data(count: 1024)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
