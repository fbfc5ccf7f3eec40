#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address, parsed from its text form: `203.0.113.9`, `2001:db8::1`,
/// `::ffff:192.0.2.1`. A zone (`fe80::1%eth0`) names an interface, not an address: it is accepted
/// on IPv6 and dropped.
public struct IPAddress: Hashable, Sendable {
    public enum Family: Hashable, Sendable {
        case v4, v6
    }

    /// In network order: 4 bytes for IPv4, 16 for IPv6.
    public let bytes: [UInt8]

    public var family: Family { bytes.count == 4 ? .v4 : .v6 }

    /// Parses dotted-quad IPv4 (no leading zeros, no shorthand such as `127.1`) or IPv6 text;
    /// nil for anything else, host names included.
    public init?(parsing text: String) {
        guard !text.utf8.contains(0) else { return nil }
        var text = Substring(text)
        if let percent = text.firstIndex(of: "%") {
            guard text.contains(":"), text.index(after: percent) < text.endIndex else { return nil }
            text = text[..<percent]
        }
        if let bytes = Self.parse(String(text), family: AF_INET, count: 4) {
            self.bytes = bytes
        } else if let bytes = Self.parse(String(text), family: AF_INET6, count: 16) {
            self.bytes = bytes
        } else {
            return nil
        }
    }

    /// An IPv4 address from its four bytes.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        bytes = [a, b, c, d]
    }

    /// An IPv6 address from its leading bytes, the rest zero: `IPAddress(ipv6: [0x20, 0x01, 0x0d, 0xb8])`
    /// is `2001:db8::`.
    init(ipv6 leading: [UInt8]) {
        precondition(leading.count <= 16, "an IPv6 address has 16 bytes")
        bytes = leading + Array(repeating: 0, count: 16 - leading.count)
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The IPv4 address an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) stands for, as a dual-stack
    /// socket reports an IPv4 peer; nil for any other address.
    public var unmappedIPv4: IPAddress? {
        guard family == .v6, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF else { return nil }
        return IPAddress(bytes: Array(bytes[12...]))
    }

    /// The IPv4-mapped IPv6 form (`::ffff:a.b.c.d`) of an IPv4 address; an IPv6 address as it is.
    public var mappedIPv6: IPAddress {
        guard family == .v4 else { return self }
        return IPAddress(bytes: Array(repeating: 0, count: 10) + [0xFF, 0xFF] + bytes)
    }

    /// The IPv4 address in bytes `range` of an IPv6 address.
    func embeddedIPv4(at range: Range<Int>) -> IPAddress {
        IPAddress(bytes: Array(bytes[range]))
    }

    private static func parse(_ text: String, family: Int32, count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        let parsed = bytes.withUnsafeMutableBytes { inet_pton(family, text, $0.baseAddress) }
        return parsed == 1 ? bytes : nil
    }
}

extension IPAddress: CustomStringConvertible {
    /// The canonical text form (`2001:db8::1`, `::ffff:192.0.2.1`), which parses back to the same
    /// address.
    public var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = family == .v4 ? AF_INET : AF_INET6
        let written = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) }
        guard written != nil else { return bytes.map(String.init).joined(separator: ".") }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
