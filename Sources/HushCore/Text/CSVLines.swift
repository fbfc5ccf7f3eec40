/// CSV rows as RFC 4180 writes them: a field is quoted when it holds a comma, a quote or a line
/// break, and its quotes are doubled; rows end with LF. (CSV.swift's writer searched every
/// field through NSString and took 80 % of an export.) A field a spreadsheet would run as a
/// formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) is written with a leading
/// `'`, OWASP's rule; `restored` takes it off again on import.
public struct CSVLines {
    /// The columns of a list's entries, as `hush export` writes them, the console's download
    /// too, and `hush import` reads them.
    public static let entryColumns = ["address", "channel", "scope", "list", "since", "source", "hold"]

    static let formulaStarts: Set<UInt8> = [UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0D]

    /// A field as written before `'` was put in front of a formula-like start.
    public static func restored(_ field: String) -> String {
        let utf8 = field.utf8
        guard utf8.count > 1, utf8.first == UInt8(ascii: "'"), formulaStarts.contains(utf8[utf8.index(after: utf8.startIndex)]) else {
            return field
        }
        return String(field.dropFirst())
    }

    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func row(_ fields: [String]) {
        for (offset, field) in fields.enumerated() {
            if offset > 0 { bytes.append(UInt8(ascii: ",")) }
            let utf8 = field.utf8
            let neutralized = utf8.first.map(Self.formulaStarts.contains) ?? false
            if neutralized && !utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }) {
                bytes.append(UInt8(ascii: "'"))
                bytes.append(contentsOf: utf8)
            } else if utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }) {
                bytes.append(UInt8(ascii: "\""))
                if neutralized { bytes.append(UInt8(ascii: "'")) }
                for byte in utf8 {
                    if byte == UInt8(ascii: "\"") { bytes.append(byte) }
                    bytes.append(byte)
                }
                bytes.append(UInt8(ascii: "\""))
            } else {
                bytes.append(contentsOf: utf8)
            }
        }
        bytes.append(0x0A)
    }
}
