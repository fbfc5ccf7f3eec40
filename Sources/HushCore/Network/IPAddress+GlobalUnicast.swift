extension IPAddress {
    /// Whether the address is unicast on the public internet, the only kind a webhook may be sent
    /// to. False for loopback, unspecified, private, shared (carrier-grade NAT), link-local (cloud
    /// metadata), documentation, benchmarking, multicast, broadcast and reserved addresses (IANA's
    /// special-purpose registries), and for IPv6 outside 2000::/3. IPv6 forms that carry an IPv4
    /// address (mapped, compatible, NAT64, 6to4) are judged by that address; Teredo is refused, its
    /// addresses being obfuscated.
    public var isGlobalUnicast: Bool {
        switch family {
        case .v4:
            return !Self.nonGlobalIPv4.contains { $0.contains(self) }
        case .v6:
            if let carried = carriedIPv4 { return carried.isGlobalUnicast }
            return Self.globalUnicastIPv6.contains(self) && !Self.nonGlobalIPv6.contains { $0.contains(self) }
        }
    }

    /// The IPv4 address an IPv6 address stands for by its form: IPv4-mapped `::ffff:a.b.c.d` and
    /// IPv4-compatible `::a.b.c.d` (`::` and `::1` among them), NAT64 `64:ff9b::a.b.c.d`, and 6to4
    /// `2002:aabb:ccdd::/48`, whose bytes 2 to 5 are the IPv4 address.
    var carriedIPv4: IPAddress? {
        guard family == .v6 else { return nil }
        let prefix = bytes[0..<12]
        if prefix.elementsEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]) || prefix.allSatisfy({ $0 == 0 })
            || prefix.elementsEqual([0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0]) {
            return embeddedIPv4(at: 12..<16)
        }
        if bytes[0] == 0x20, bytes[1] == 0x02 { return embeddedIPv4(at: 2..<6) }
        return nil
    }

    private static let nonGlobalIPv4: [CIDR] = [
        CIDR(IPAddress(0, 0, 0, 0), prefixLength: 8),  // "this network", 0.0.0.0
        CIDR(IPAddress(10, 0, 0, 0), prefixLength: 8),  // private, RFC 1918
        CIDR(IPAddress(100, 64, 0, 0), prefixLength: 10),  // shared, carrier-grade NAT, RFC 6598
        CIDR(IPAddress(127, 0, 0, 0), prefixLength: 8),  // loopback
        CIDR(IPAddress(169, 254, 0, 0), prefixLength: 16),  // link-local, cloud metadata 169.254.169.254
        CIDR(IPAddress(172, 16, 0, 0), prefixLength: 12),  // private
        CIDR(IPAddress(192, 0, 0, 0), prefixLength: 24),  // IETF protocol assignments, RFC 6890
        CIDR(IPAddress(192, 0, 2, 0), prefixLength: 24),  // documentation, TEST-NET-1
        CIDR(IPAddress(192, 88, 99, 0), prefixLength: 24),  // 6to4 relay anycast, deprecated by RFC 7526
        CIDR(IPAddress(192, 168, 0, 0), prefixLength: 16),  // private
        CIDR(IPAddress(198, 18, 0, 0), prefixLength: 15),  // benchmarking, RFC 2544
        CIDR(IPAddress(198, 51, 100, 0), prefixLength: 24),  // documentation, TEST-NET-2
        CIDR(IPAddress(203, 0, 113, 0), prefixLength: 24),  // documentation, TEST-NET-3
        CIDR(IPAddress(224, 0, 0, 0), prefixLength: 4),  // multicast
        CIDR(IPAddress(240, 0, 0, 0), prefixLength: 4),  // reserved, and 255.255.255.255 broadcast
    ]

    /// 2000::/3. Outside it: `::1`, `::`, unique local fc00::/7, link-local fe80::/10, multicast
    /// ff00::/8, discard-only 100::/64, local-use NAT64 64:ff9b:1::/48, SRv6 5f00::/16 and
    /// space not yet allocated.
    private static let globalUnicastIPv6 = CIDR(IPAddress(ipv6: [0x20]), prefixLength: 3)

    private static let nonGlobalIPv6: [CIDR] = [
        CIDR(IPAddress(ipv6: [0x20, 0x01]), prefixLength: 23),  // IETF protocol assignments: Teredo 2001::/32, benchmarking, ORCHID
        CIDR(IPAddress(ipv6: [0x20, 0x01, 0x0D, 0xB8]), prefixLength: 32),  // documentation
        CIDR(IPAddress(ipv6: [0x3F, 0xFF]), prefixLength: 20),  // documentation, RFC 9637
    ]
}
