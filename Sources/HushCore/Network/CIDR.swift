/// A block of addresses: `10.0.0.0/8`, `2001:db8::/32`, or a bare address as a block of one
/// (`/32`, `/128`). Bits past the prefix are cleared, so `10.1.2.3/8` is `10.0.0.0/8`.
public struct CIDR: Hashable, Sendable {
    /// The first address of the block.
    public let network: IPAddress
    public let prefixLength: Int

    /// Parses `address/length` or a bare address; nil when the address does not parse or the
    /// length is not a number of bits the address has.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parsing: String(parts[0])) else { return nil }
        let bits = address.bytes.count * 8
        guard parts.count == 2 else {
            self.init(address, prefixLength: bits)
            return
        }
        let digits = parts[1]
        guard (1...3).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }), let length = Int(digits), length <= bits else {
            return nil
        }
        self.init(address, prefixLength: length)
    }

    /// The block of `prefixLength` leading bits of `address`, which must be at most the bits it has.
    public init(_ address: IPAddress, prefixLength: Int) {
        precondition((0...address.bytes.count * 8).contains(prefixLength), "a prefix length is at most the address's bits")
        self.network = Self.masked(address, to: prefixLength)
        self.prefixLength = prefixLength
    }

    /// Whether `address` falls in the block. An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, what a
    /// dual-stack socket reports for an IPv4 peer) is the IPv4 address it maps, and the other way round.
    public func contains(_ address: IPAddress) -> Bool {
        let candidate: IPAddress
        switch (network.family, address.family) {
        case (.v4, .v6):
            guard let unmapped = address.unmappedIPv4 else { return false }
            candidate = unmapped
        case (.v6, .v4):
            candidate = address.mappedIPv6
        default:
            candidate = address
        }
        return Self.masked(candidate, to: prefixLength) == network
    }

    private static func masked(_ address: IPAddress, to length: Int) -> IPAddress {
        var bytes = address.bytes
        for index in bytes.indices {
            let kept = min(max(length - index * 8, 0), 8)
            bytes[index] &= ~(UInt8(0xFF) >> kept)
        }
        return address.family == .v4 ? IPAddress(bytes[0], bytes[1], bytes[2], bytes[3]) : IPAddress(ipv6: bytes)
    }
}

extension CIDR: CustomStringConvertible {
    public var description: String { "\(network)/\(prefixLength)" }
}
