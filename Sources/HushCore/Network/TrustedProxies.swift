import Foundation

/// The proxies in front of Hush (`--trusted-proxies CIDR,…`). A request whose peer is one of
/// them is attributed to the address its `Forwarded` or `X-Forwarded-For` header names, read
/// from the nearest hop back past every trusted one; any other request to its peer, whatever it
/// claims. Rate limits and the evidence of public writes use that address.
public struct TrustedProxies: Hashable, Sendable {
    public let ranges: [CIDR]

    public init(_ ranges: [CIDR] = []) {
        self.ranges = ranges
    }

    /// `10.0.0.0/8,::1` and the like; empty text trusts nobody.
    public init(parsing text: String, field: String = "trusted_proxies") throws(HushError) {
        var ranges: [CIDR] = []
        for part in text.split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            guard let range = CIDR(parsing: trimmed) else {
                throw .invalid(field, "\"\(trimmed)\" is not an address or CIDR range such as 10.0.0.0/8")
            }
            ranges.append(range)
        }
        self.init(ranges)
    }

    public func trusts(_ address: IPAddress) -> Bool {
        ranges.contains { $0.contains(address) }
    }

    /// The client's address: `peer` unless it is a trusted proxy.
    /// - Parameters:
    ///   - forwarded: the `Forwarded` header values (RFC 7239), which win when present.
    ///   - forwardedFor: the `X-Forwarded-For` header values.
    public func client(peer: String, forwarded: [String], forwardedFor: [String]) -> String {
        guard let peerAddress = IPAddress(parsing: peer), trusts(peerAddress) else { return peer }
        let hops: [String] = if forwarded.isEmpty {
            forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        } else {
            forwarded.flatMap { $0.split(separator: ",") }.compactMap(Self.forValue)
        }
        var client = peer
        for hop in hops.reversed() {
            guard let address = IPAddress(parsing: Self.bare(hop)) else { return client }
            client = address.description
            if !trusts(address) { return client }
        }
        return client
    }

    /// The `for=` value of one `Forwarded` element.
    static func forValue(_ element: Substring) -> String? {
        for pair in element.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces).lowercased() == "for" {
                return parts[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }

    /// An address without the brackets and port a header may give it (`[2001:db8::1]:4711`,
    /// `192.0.2.60:80`).
    static func bare(_ hop: String) -> String {
        if hop.hasPrefix("[") { return String(hop.dropFirst().prefix { $0 != "]" }) }
        if hop.filter({ $0 == ":" }).count == 1 { return String(hop.prefix { $0 != ":" }) }
        return hop
    }
}
