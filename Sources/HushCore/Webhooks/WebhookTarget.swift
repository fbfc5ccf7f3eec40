import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Refuses webhook targets that would let a caller reach inside the network Hush runs in
/// (SSRF): anything but http(s), and hosts with an address that is not global unicast
/// (loopback, private, link-local and cloud metadata, carrier-grade NAT, ...: see
/// `IPAddress.isGlobalUnicast`), unless private targets are allowed (development, tests).
public enum WebhookTarget {
    public static func validate(_ text: String, allowPrivate: Bool, field: String = "url") throws(HushError) -> URL {
        try destination(text, allowPrivate: allowPrivate, field: field).url
    }

    /// The checked URL with the address to connect to. The host is resolved once, here: a sender
    /// that connects to `pinnedAddress` reaches what was checked, whatever the name resolves to by
    /// then (DNS rebinding). Nothing is resolved or pinned when private targets are allowed.
    public static func destination(_ text: String, allowPrivate: Bool, field: String = "url") throws(HushError) -> WebhookDestination {
        guard text.count <= WebhookEndpoint.maximumURLLength, let url = URL(string: text),
              let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
        else {
            throw .invalid(field, "a webhook URL is an http or https URL of at most \(WebhookEndpoint.maximumURLLength) characters")
        }
        guard !allowPrivate else { return WebhookDestination(url: url, host: host, pinnedAddress: nil) }
        let address = try pin(host, resolvedTo: resolve(host), field: field)
        return WebhookDestination(url: url, host: host, pinnedAddress: address)
    }

    /// The address to connect to out of everything `host` resolved to: the first, in the
    /// resolver's order of preference (RFC 6724), provided every one is global unicast. A name
    /// with any address inside is refused whole rather than trusting whichever answer comes first.
    static func pin(_ host: String, resolvedTo addresses: [String], field: String = "url") throws(HushError) -> IPAddress {
        var pinned: IPAddress?
        for text in addresses {
            guard let address = IPAddress(parsing: text), address.isGlobalUnicast else { throw notPublic(host, field: field) }
            pinned = pinned ?? address
        }
        guard let pinned else { throw notPublic(host, field: field) }
        return pinned
    }

    /// The same refusal whether the name resolves inside or not at all, naming no address: the
    /// server's resolver sees the operator's internal names, and a tenant must not map them
    /// through it.
    private static func notPublic(_ host: String, field: String) -> HushError {
        .invalid(field, "\(host) does not resolve to public addresses only; webhooks must reach a public host")
    }

    /// The host's IPv4 and IPv6 addresses, as text.
    static func resolve(_ host: String) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), nil, &hints, &result) == 0 else { return [] }
        defer { freeaddrinfo(result) }
        var addresses: [String] = []
        var cursor = result
        while let info = cursor {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(info.pointee.ai_addr, info.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                addresses.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            cursor = info.pointee.ai_next
        }
        return addresses
    }

    /// Whether an address is off limits: text that is not an IP address, or an address that is
    /// not global unicast.
    public static func isPrivate(_ address: String) -> Bool {
        guard let parsed = IPAddress(parsing: address) else { return true }
        return !parsed.isGlobalUnicast
    }
}
