import Foundation

/// The answer to "may we contact this address, on this channel, from this scope?": allowed,
/// or blocked with every suppression that blocks.
public struct Decision: Hashable, Sendable {
    public let address: Address
    public let channel: Channel
    public let scope: Scope
    public let blockedBy: Blocks

    @inlinable
    public init(address: Address, channel: Channel, scope: Scope, blockedBy: Blocks) {
        self.address = address
        self.channel = channel
        self.scope = scope
        self.blockedBy = blockedBy
    }

    public init(address: Address, channel: Channel, scope: Scope, blockedBy: [Block]) {
        self.init(address: address, channel: channel, scope: scope, blockedBy: Blocks(blockedBy))
    }

    /// The answer to `query` for `address`: the question with what blocks it.
    @inlinable
    public init(address: Address, answering query: CheckQuery, blockedBy: Blocks) {
        self.init(address: address, channel: query.channel, scope: query.scope, blockedBy: blockedBy)
    }

    @inlinable
    public var allowed: Bool { blockedBy.isEmpty }

    /// One suppression that blocks a send.
    public struct Block: Hashable, Sendable {
        public let list: ListID
        /// The list's name as it is now (a renamed list goes by its new name).
        public let listName: String
        public let scope: Scope
        public let channel: ChannelSelection
        public let since: Date
        public let source: Source
        public let eventSequence: Int64
        /// The contact whose opt-out this is, when it was recorded for a contact.
        public let contact: ContactID?
        /// Held by an admin: lifted only by an admin opt-in with evidence.
        public let hold: Bool

        @inlinable
        public init(
            list: ListID, listName: String, scope: Scope, channel: ChannelSelection, since: Date, source: Source,
            eventSequence: Int64, contact: ContactID? = nil, hold: Bool = false
        ) {
            self.hold = hold
            self.list = list
            self.listName = listName
            self.scope = scope
            self.channel = channel
            self.since = since
            self.source = source
            self.eventSequence = eventSequence
            self.contact = contact
        }
    }
}

/// What a check asks: the channel, the sending scope and the lists it honours.
public struct CheckQuery: Hashable, Sendable {
    public let channel: Channel
    public let scope: Scope
    /// Custom lists the send honours; the organization's `default` list always counts.
    public let lists: Set<ListID>

    public init(channel: Channel, scope: Scope = .organization, lists: Set<ListID> = []) {
        self.channel = channel
        self.scope = scope
        self.lists = lists
    }

    /// The rule every check applies: a suppression blocks when it covers the channel, is at the
    /// send's scope or above it, and is on `default` or on a list the send honours.
    @inlinable
    public func isBlocked(by channel: ChannelSelection, scope: Scope, list: ListID, listIsDefault: Bool) -> Bool {
        channel.covers(self.channel)
            && scope.covers(self.scope)
            && (listIsDefault || lists.contains(list))
    }
}
