import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where an organization wants to hear about changes, and which ones.
public struct WebhookEndpoint: Hashable, Sendable {
    public static let eventTypes = WebhookEvent.Kind.allCases.map(\.rawValue)
    public static let maximumURLLength = 2048

    public var id: Int64
    public var url: String
    public var events: [String]
    /// Only events on these lists; every list when nil.
    public var lists: [ListID]?
    public var enabled: Bool
    /// Newest first; two while a rotation is in progress.
    public var secrets: [WebhookSecret]
    public var disabledReason: String?
    /// The list whose `webhook_url` this is: it gets that list's opt-outs in the seed's format.
    public var ownerList: ListID?

    public init(
        id: Int64 = 0, url: String, events: [String], lists: [ListID]? = nil, enabled: Bool = true, secrets: [WebhookSecret] = [],
        disabledReason: String? = nil, ownerList: ListID? = nil
    ) {
        self.id = id
        self.url = url
        self.events = events
        self.lists = lists
        self.enabled = enabled
        self.secrets = secrets
        self.disabledReason = disabledReason
        self.ownerList = ownerList
    }

    /// Whether the endpoint is enabled and subscribes to the event.
    public func wants(_ kind: WebhookEvent.Kind, list: ListID?) -> Bool {
        enabled && subscribes(to: kind, list: list)
    }

    /// Whether the endpoint's events and lists take in the event.
    public func subscribes(to kind: WebhookEvent.Kind, list: ListID?) -> Bool {
        guard events.contains(kind.rawValue) else { return false }
        if let ownerList { return list == ownerList }
        // Events about no list (a message waiting for review) reach list-filtered endpoints too.
        guard let lists, let list else { return true }
        return lists.contains(list)
    }

    /// The body the endpoint receives for the event.
    public func body(for event: WebhookEvent) -> [UInt8] {
        ownerList == nil ? event.body : event.listBody
    }

    /// Checks the events, naming the one at fault.
    public static func validateEvents(_ events: [String]) throws(HushError) -> [String] {
        guard !events.isEmpty else { throw .invalid("events", "subscribe to at least one event") }
        for (offset, event) in events.enumerated() where !eventTypes.contains(event) {
            throw .invalid("events[\(offset)]", "\"\(event)\" is not an event; use \(eventTypes.joined(separator: ", "))")
        }
        return Array(Set(events)).sorted()
    }
}

/// Refuses webhook targets that would let a caller reach inside the network Hush runs in
/// (SSRF): anything but http(s), and hosts that resolve to loopback, private, link-local,
/// carrier-grade NAT, unspecified or cloud metadata addresses, unless private targets are
/// allowed (development, tests).
public enum WebhookTarget {
    public static func validate(_ text: String, allowPrivate: Bool, field: String = "url") throws(HushError) -> URL {
        guard text.count <= WebhookEndpoint.maximumURLLength, let url = URL(string: text),
              let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
        else {
            throw .invalid(field, "a webhook URL is an http or https URL of at most \(WebhookEndpoint.maximumURLLength) characters")
        }
        guard !allowPrivate else { return url }
        let addresses = resolve(host)
        guard !addresses.isEmpty else {
            throw .invalid(field, "\(host) does not resolve")
        }
        if let inside = addresses.first(where: isPrivate) {
            throw .invalid(field, "\(host) resolves to \(inside), a private or local address; webhooks must reach a public host")
        }
        return url
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

    /// Loopback, private (RFC 1918, unique local), link-local (incl. 169.254.169.254, the cloud
    /// metadata address), carrier-grade NAT, unspecified and IPv4-mapped forms of them.
    public static func isPrivate(_ address: String) -> Bool {
        var text = address.lowercased()
        if let percent = text.firstIndex(of: "%") { text = String(text[..<percent]) }
        if text.hasPrefix("::ffff:") { text = String(text.dropFirst(7)) }
        let octets = text.split(separator: ".").compactMap { UInt8($0) }
        if octets.count == 4 {
            switch (octets[0], octets[1]) {
            case (0, _), (10, _), (127, _): return true
            case (100, 64...127): return true
            case (169, 254): return true
            case (172, 16...31): return true
            case (192, 168): return true
            default: return false
            }
        }
        return text == "::1" || text == "::" || text.hasPrefix("fc") || text.hasPrefix("fd") || text.hasPrefix("fe8")
            || text.hasPrefix("fe9") || text.hasPrefix("fea") || text.hasPrefix("feb")
    }
}
