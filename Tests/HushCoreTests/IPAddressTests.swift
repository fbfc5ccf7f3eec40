import HushCore
import Testing

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("8.8.8.8", [8, 8, 8, 8]),
        ("::1", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        ("fe80::1%eth0", [0xFE, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        ("::ffff:192.0.2.1", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 192, 0, 2, 1]),
    ] as [(String, [UInt8])])
    func textParsesIntoNetworkOrderBytes(text: String, bytes: [UInt8]) throws {
        #expect(try #require(IPAddress(parsing: text)).bytes == bytes)
    }

    @Test(arguments: ["", "example.com", "1.2.3", "127.1", "0x7f.0.0.1", "2130706433", "010.0.0.1", "256.0.0.1", "1.2.3.4 ", "1.2.3.4%eth0",
                      "::1%", "1.2.3.4\u{0}", ":::", "2001:db8::1::2", "[::1]"])
    func anythingButAnAddressIsRefused(text: String) {
        #expect(IPAddress(parsing: text) == nil, "\(text)")
    }

    @Test(arguments: ["203.0.113.9", "2001:db8::1", "::ffff:192.0.2.1", "::"])
    func descriptionIsCanonicalText(text: String) throws {
        let address = try #require(IPAddress(parsing: text))
        #expect(address.description == text)
        #expect(IPAddress(parsing: address.description) == address)
    }

    @Test(arguments: [
        "0.1.2.3", "0.0.0.0",  // this network, unspecified
        "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",  // RFC 1918
        "100.64.0.1", "100.127.255.254",  // carrier-grade NAT
        "127.0.0.1", "127.255.255.254",  // loopback
        "169.254.169.254", "169.254.0.1",  // link-local, cloud metadata
        "192.0.0.1", "192.0.2.10", "198.51.100.7", "203.0.113.200",  // IETF, documentation
        "198.18.0.1", "198.19.255.255",  // benchmarking
        "192.88.99.1",  // 6to4 relay anycast
        "224.0.0.1", "239.255.255.250",  // multicast
        "240.0.0.1", "255.255.255.255",  // reserved, broadcast
        "::1", "::",  // loopback, unspecified
        "fc00::1", "fd12:3456::1",  // unique local
        "fe80::1", "fe80::1%eth0", "febf::1",  // link-local
        "ff02::1", "ff0e::1",  // multicast
        "2001:db8::1", "2001:db8:ffff::1",  // documentation
        "3fff::1",  // documentation, RFC 9637
        "100::1", "64:ff9b:1::1",  // discard-only, local-use NAT64
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",  // IPv4-mapped
        "::127.0.0.1", "::10.0.0.1",  // IPv4-compatible
        "64:ff9b::7f00:1", "64:ff9b::10.0.0.1", "64:ff9b::a9fe:a9fe",  // NAT64 of loopback, private, metadata
        "2002:7f00:1::1", "2002:a00:1::", "2002:c0a8:101::1",  // 6to4 of loopback, private
        "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::1",  // Teredo
        "2001:2::1",  // benchmarking
        "4000::1", "fec0::1",  // unallocated, deprecated site-local
    ])
    func addressesOutsideTheGlobalInternetAreRefused(text: String) throws {
        let address = try #require(IPAddress(parsing: text), "\(text)")
        #expect(!address.isGlobalUnicast, "\(text)")
    }

    @Test(arguments: [
        "8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1", "192.169.0.1", "198.20.0.1", "223.255.255.255",
        "2606:4700::1111", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e",
        "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",  // mapped, NAT64 and 6to4 of 8.8.8.8
    ])
    func globalUnicastAddressesPass(text: String) throws {
        let address = try #require(IPAddress(parsing: text), "\(text)")
        #expect(address.isGlobalUnicast, "\(text)")
    }

    @Test(arguments: [
        ("10.0.0.0/8", "10.255.1.2", true), ("10.0.0.0/8", "11.0.0.1", false),
        ("172.16.0.0/12", "172.31.0.1", true), ("172.16.0.0/12", "172.32.0.1", false),
        ("192.168.1.7", "192.168.1.7", true), ("192.168.1.7", "192.168.1.8", false),
        ("0.0.0.0/0", "203.0.113.9", true), ("0.0.0.0/0", "2001:db8::1", false),
        ("::1/128", "::1", true), ("::1", "::2", false),
        ("2001:db8::/32", "2001:db8:ffff::1", true), ("2001:db8::/32", "2001:db9::1", false),
        ("fe80::/10", "fe80::1%eth0", true),
        ("10.0.0.0/8", "::ffff:10.1.2.3", true), ("10.0.0.0/8", "::ffff:11.1.2.3", false), ("10.0.0.0/8", "::10.1.2.3", false),
        ("::ffff:10.0.0.0/104", "10.9.9.9", true),
    ])
    func cidrContainsTheAddressesOfItsBlock(cidr: String, address: String, contained: Bool) throws {
        let block = try #require(CIDR(parsing: cidr), "\(cidr)")
        let address = try #require(IPAddress(parsing: address), "\(address)")
        #expect(block.contains(address) == contained, "\(cidr) ∋ \(address)")
    }

    @Test func cidrClearsHostBitsAndBareAddressesAreOneAddressBlocks() throws {
        #expect(try #require(CIDR(parsing: "10.1.2.3/8")).description == "10.0.0.0/8")
        #expect(try #require(CIDR(parsing: "2001:db8::1/32")).description == "2001:db8::/32")
        #expect(try #require(CIDR(parsing: "192.0.2.1")).prefixLength == 32)
        #expect(try #require(CIDR(parsing: "2001:db8::1")).prefixLength == 128)
    }

    @Test(arguments: ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/8", "10.0.0.0/0008", "example.com/8", "/8", ""])
    func malformedCIDRIsRefused(text: String) {
        #expect(CIDR(parsing: text) == nil, "\(text)")
    }
}

@Suite struct TrustedProxiesTests {
    private func trusted() throws -> TrustedProxies {
        try TrustedProxies(parsing: "10.0.0.0/8, 127.0.0.1")
    }

    @Test func theNearestUntrustedHopIsTheClient() throws {
        let proxies = try trusted()
        #expect(proxies.client(peer: "10.1.1.1", forwarded: [], forwardedFor: ["198.51.100.7, 203.0.113.9, 10.0.0.2"]) == "203.0.113.9")
        #expect(proxies.client(peer: "10.1.1.1", forwarded: [#"for=192.0.2.60;proto=http, for="[2001:db8::1]:4711""#], forwardedFor: ["203.0.113.9"]) == "2001:db8::1")
    }

    @Test func anUntrustedPeerIsTheClientWhateverItClaims() throws {
        let proxies = try trusted()
        #expect(proxies.client(peer: "203.0.113.50", forwarded: [], forwardedFor: ["1.2.3.4"]) == "203.0.113.50")
        #expect(proxies.client(peer: "10.1.1.1", forwarded: [], forwardedFor: []) == "10.1.1.1")
        #expect(proxies.client(peer: "10.1.1.1", forwarded: [], forwardedFor: ["not-an-ip"]) == "10.1.1.1")
    }

    @Test func badRangesAreRefusedByName() {
        #expect(throws: HushError.self) { try TrustedProxies(parsing: "10.0.0.0/33") }
        #expect(throws: HushError.self) { try TrustedProxies(parsing: "proxy.local") }
    }
}
