import Foundation

/// Where an organization wants to hear about changes, and which ones.
public struct WebhookEndpoint: Hashable, Sendable {
    public static let eventTypes = WebhookEvent.Kind.allCases.map(\.rawValue)
    public static let maximumURLLength = 2048

    public var id: WebhookID
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
        id: WebhookID = WebhookID(0), url: String, events: [String], lists: [ListID]? = nil, enabled: Bool = true, secrets: [WebhookSecret] = [],
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
