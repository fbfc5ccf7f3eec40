/// Which endpoints an event reaches, and what a list's own webhook becomes when the list
/// changes: decided here, written by whichever backend keeps the outbox.
public enum WebhookRouting {
    /// The ids of the endpoints that want each event, in the order given: enabled, subscribed
    /// to its kind, and taking its list (a list's own endpoint takes only that list).
    public static func endpoints(for events: [WebhookEvent], among endpoints: [WebhookEndpoint]) -> [[WebhookID]] {
        events.map { event in endpoints.filter { $0.wants(event.kind, list: event.list) }.map(\.id) }
    }

    /// What to do with a list's own endpoint (the one its `webhook_url` makes).
    public enum ListEndpointChange: Hashable, Sendable {
        case none
        /// The list has a URL and no endpoint: create one for `opt_out.created` on this list.
        case create(url: String)
        /// The URL changed or stayed: point the endpoint at it.
        case retarget(endpoint: WebhookID, url: String)
        /// The URL was removed: delete the endpoint.
        case delete(endpoint: WebhookID)
    }

    /// The change that keeps a list's own endpoint in step with its `webhook_url`.
    public static func listEndpoint(url: String?, endpoint: WebhookID?) -> ListEndpointChange {
        switch (url, endpoint) {
        case (nil, nil): .none
        case (nil, let endpoint?): .delete(endpoint: endpoint)
        case (let url?, let endpoint?): .retarget(endpoint: endpoint, url: url)
        case (let url?, nil): .create(url: url)
        }
    }

    /// What a completed send announces: `send.blocked` when anyone was held back.
    public static func announcement(of send: Send) -> WebhookEvent? {
        send.counts.blocked > 0 ? WebhookEvent(blocked: send) : nil
    }

    /// What a stored inbound message announces: `inbound.needs_review` when a person must read it.
    public static func announcement(of message: InboundMessage) -> WebhookEvent? {
        message.review == .pending ? WebhookEvent(review: message) : nil
    }

    /// The events a list's own endpoint subscribes to.
    public static let listEndpointEvents: [WebhookEvent.Kind] = [.optOutCreated]
}
