/// CSV rows as RFC 4180 writes them: a field is quoted when it holds a comma, a quote or a line
/// break, and its quotes are doubled; rows end with LF. (CSV.swift's writer searched every
/// field through NSString and took 80 % of an export.)
public struct CSVLines {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func row(_ fields: [String]) {
        for (offset, field) in fields.enumerated() {
            if offset > 0 { bytes.append(UInt8(ascii: ",")) }
            let utf8 = field.utf8
            if utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }) {
                bytes.append(UInt8(ascii: "\""))
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
