import Foundation

/// An opt-in waiting for the person to confirm it through a link the sender delivers. It lifts
/// nothing until confirmed.
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

    public init(
        id: Int64 = 0, address: Address, contact: ContactID? = nil, channel: ChannelSelection, scope: Scope, list: ListID?,
        requestedBy: String, createdAt: Date = Date(), confirmedAt: Date? = nil
    ) {
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
}
