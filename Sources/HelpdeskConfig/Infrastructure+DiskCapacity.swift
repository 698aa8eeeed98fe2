import Foundation

/// A database's `disk_capacity`: how large the volume holding its data and WAL is. PostgreSQL can say
/// how much it uses but not how much is free, so the inventory says how much there is.
extension Infrastructure {
    /// Units by their lowercase spelling (matched in any case). `kB`, `MB`, `GB`, `TB` count in 1024s, as
    /// PostgreSQL's own settings and `pg_size_pretty` do; `KiB`/`Ki`… are the same, as IEC and Kubernetes write them.
    private static let binaryUnits: [String: Int64] = [
        "b": 1,
        "kb": 1 << 10, "kib": 1 << 10, "ki": 1 << 10,
        "mb": 1 << 20, "mib": 1 << 20, "mi": 1 << 20,
        "gb": 1 << 30, "gib": 1 << 30, "gi": 1 << 30,
        "tb": 1 << 40, "tib": 1 << 40, "ti": 1 << 40,
        "pb": 1 << 50, "pib": 1 << 50, "pi": 1 << 50,
    ]

    /// Kubernetes' decimal quantities (`100G` on a PersistentVolumeClaim), exactly as it spells them:
    /// a lowercase `m` would be its milli.
    private static let decimalUnits: [String: Int64] = [
        "k": 1_000, "M": 1_000_000, "G": 1_000_000_000, "T": 1_000_000_000_000, "P": 1_000_000_000_000_000,
    ]

    /// The bytes `text` names: a whole number of bytes (`68719476736`), or a number and a unit (`64MB`,
    /// `50GB`, `1.5TiB`, `512Mi`, `100G`). `nil` when it is not a size or not above zero.
    public static func byteSize(parsing text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let number = trimmed.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        let unit = trimmed.dropFirst(number.count).trimmingCharacters(in: .whitespaces)
        guard !number.isEmpty, number.first != ".", number.last != ".", number.filter({ $0 == "." }).count <= 1 else { return nil }
        let factor: Int64
        if unit.isEmpty {
            guard !number.contains(".") else { return nil }  // a fraction of a byte
            factor = 1
        } else if let binary = binaryUnits[unit.lowercased()] {
            factor = binary
        } else if let decimal = decimalUnits[unit] {
            factor = decimal
        } else {
            return nil
        }
        if !number.contains("."), let whole = Int64(number) {
            let (bytes, overflow) = whole.multipliedReportingOverflow(by: factor)
            return overflow || bytes <= 0 ? nil : bytes
        }
        guard let value = Double(number) else { return nil }
        let bytes = (value * Double(factor)).rounded(.down)
        guard bytes >= 1, bytes < Double(Int64.max) else { return nil }
        return Int64(bytes)
    }

    /// `disk_capacity` of database `id`, reported at its line when it is not a size.
    static func diskCapacity(of id: String, _ entry: ConfigSection) -> Int64? {
        guard let text = entry.optionalString("disk_capacity"), !text.isEmpty else { return nil }
        guard let bytes = byteSize(parsing: text) else {
            entry.report("disk_capacity", "\"\(text)\" is not a size (the disk capacity of \(id)): write bytes (68719476736) "
                + "or a number with a unit such as 64MB, 50GB, 1TiB or 512Mi (kB, MB, GB, TB count in 1024s as in PostgreSQL; "
                + "Kubernetes' k, M, G, T in 1000s)")
            return nil
        }
        return bytes
    }
}
