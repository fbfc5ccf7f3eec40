import Foundation

/// An opt-in waiting for the person to confirm it through a link the sender delivers. It lifts
/// nothing until confirmed, and then at most the suppressions it saw when it was made (`lifts`)
/// that are still in force; after `expiresAt` it lifts nothing.
public struct OptInRequest: Hashable, Sendable {
    public var id: Int64
    public var address: Address
    public var contact: ContactID?
    public var channel: ChannelSelection
    public var scope: Scope
    /// `nil` until stored: the organization's default list.
    public var list: ListID?
    /// Who asked: `preference_center` or an API key's actor.
    public var requestedBy: String
    public var createdAt: Date
    public var confirmedAt: Date?
    public var expiresAt: Date?
    /// The suppressions (by the events that made them) a confirmation may lift.
    public var lifts: Set<Int64>

    public init(
        id: Int64 = 0, address: Address, contact: ContactID? = nil, channel: ChannelSelection, scope: Scope, list: ListID?,
        requestedBy: String, createdAt: Date = Date(), confirmedAt: Date? = nil, expiresAt: Date? = nil, lifts: Set<Int64> = []
    ) {
        self.expiresAt = expiresAt
        self.lifts = lifts
        self.id = id
        self.address = address
        self.contact = contact
        self.channel = channel
        self.scope = scope
        self.list = list
        self.requestedBy = requestedBy
        self.createdAt = createdAt
        self.confirmedAt = confirmedAt
    }

    /// Whether its link has stopped working at `now`.
    public func isExpired(at now: Date) -> Bool {
        expiresAt.map { now >= $0 } ?? false
    }
}
