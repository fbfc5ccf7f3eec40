import Foundation

/// One event on its way to one endpoint, and how its attempts went.
public struct WebhookDelivery: Hashable, Sendable {
    public enum Status: String, Hashable, Sendable, CaseIterable {
        /// Waiting for its first attempt or its next one.
        case pending
        case succeeded
        /// Every attempt failed; it stays listed and can be retried by hand.
        case dead
    }

    /// The longest response body kept, in bytes.
    public static let maximumKeptBody = 1_024

    public var id: DeliveryID
    public var endpoint: WebhookID
    public var event: WebhookEvent
    public var status: Status
    public var attempts: Int
    /// When a pending delivery is next tried; nil once it succeeded or died.
    public var nextAttemptAt: Date?
    public var lastAttemptAt: Date?
    public var responseStatus: Int?
    /// The first bytes of the last response body.
    public var responseBody: String?
    /// Why the last attempt failed when there was no response: a timeout, a refused connection.
    public var error: String?
    public var createdAt: Date
    public var finishedAt: Date?

    public init(
        id: DeliveryID, endpoint: WebhookID, event: WebhookEvent, status: Status, attempts: Int, nextAttemptAt: Date?, lastAttemptAt: Date?,
        responseStatus: Int?, responseBody: String?, error: String?, createdAt: Date, finishedAt: Date?
    ) {
        self.id = id
        self.endpoint = endpoint
        self.event = event
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastAttemptAt = lastAttemptAt
        self.responseStatus = responseStatus
        self.responseBody = responseBody
        self.error = error
        self.createdAt = createdAt
        self.finishedAt = finishedAt
    }
}

/// A delivery handed to the sender: the event, and the endpoint as it was when claimed.
public struct ClaimedDelivery: Hashable, Sendable {
    public var id: DeliveryID
    /// Attempts made before this one.
    public var attempts: Int
    public var endpoint: WebhookEndpoint
    public var event: WebhookEvent

    public init(id: DeliveryID, attempts: Int, endpoint: WebhookEndpoint, event: WebhookEvent) {
        self.id = id
        self.attempts = attempts
        self.endpoint = endpoint
        self.event = event
    }
}

/// How one attempt went.
public struct DeliveryAttempt: Hashable, Sendable {
    public enum Outcome: Hashable, Sendable {
        /// 2xx.
        case succeeded
        /// Tried again at this time, or dead when nil.
        case retry(at: Date?)
        /// 410: the receiver is gone; the endpoint is disabled and the delivery waits.
        case gone
        /// Not attempted after all (an earlier delivery to the endpoint failed); it keeps its place.
        case released
    }

    public var delivery: DeliveryID
    public var endpoint: WebhookID
    public var outcome: Outcome
    public var at: Date
    public var responseStatus: Int?
    public var responseBody: String?
    public var error: String?

    public init(delivery: DeliveryID, endpoint: WebhookID, outcome: Outcome, at: Date, responseStatus: Int? = nil, responseBody: String? = nil, error: String? = nil) {
        self.delivery = delivery
        self.endpoint = endpoint
        self.outcome = outcome
        self.at = at
        self.responseStatus = responseStatus
        self.responseBody = responseBody
        self.error = error
    }
}
