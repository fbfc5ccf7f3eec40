import Foundation

/// A rule that turns what happens (a logged call, a received message) into an opt-out or an
/// opt-in: `{on: "call.logged", when: {disposition: "Do Not Call"}, then: {opt_out: {channels: ["voice"]}}}`.
public struct Trigger: Hashable, Sendable, Codable {
    public enum Event: String, Hashable, Sendable, Codable {
        case callLogged = "call.logged"
        case messageReceived = "message.received"
    }

    public struct Condition: Hashable, Sendable, Codable {
        /// For `call.logged`: the disposition, compared without case.
        public var disposition: String?
        /// For `message.received`: the message, read like a keyword.
        public var keyword: String?

        public init(disposition: String? = nil, keyword: String? = nil) {
            self.disposition = disposition
            self.keyword = keyword
        }
    }

    public struct Change: Hashable, Sendable, Codable {
        /// Channels to stop; for `message.received` the message's channel when absent.
        public var channels: [String]?
        /// List ids; the default list when absent.
        public var lists: [Int64]?

        public init(channels: [String]? = nil, lists: [Int64]? = nil) {
            self.channels = channels
            self.lists = lists
        }
    }

    public struct Action: Hashable, Sendable, Codable {
        public var optOut: Change?
        public var optIn: Change?

        enum CodingKeys: String, CodingKey {
            case optOut = "opt_out"
            case optIn = "opt_in"
        }

        public init(optOut: Change? = nil, optIn: Change? = nil) {
            self.optOut = optOut
            self.optIn = optIn
        }
    }

    public var id: TriggerID
    public var on: Event
    public var when: Condition
    public var then: Action

    public init(id: TriggerID = TriggerID(0), on: Event, when: Condition, then: Action) {
        self.id = id
        self.on = on
        self.when = when
        self.then = then
    }

    /// Checks the rule's shape, naming the field at fault.
    public func validated() throws(HushError) -> Trigger {
        switch on {
        case .callLogged:
            guard let disposition = when.disposition, !disposition.trimmed.isEmpty, disposition.count <= 100 else {
                throw .invalid("when.disposition", "a call.logged trigger needs a disposition of 1 to 100 characters")
            }
            guard then.optIn == nil else {
                throw .invalid("then.opt_in", "a call disposition cannot opt anyone in")
            }
            guard when.keyword == nil else {
                throw .invalid("when.keyword", "a call.logged trigger acts on a disposition, not a keyword: leave keyword out")
            }
        case .messageReceived:
            guard when.disposition == nil else {
                throw .invalid("when.disposition", "a message.received trigger acts on a keyword, not a disposition: leave disposition out")
            }
            guard let keyword = when.keyword, !KeywordEngine.words(keyword).isEmpty, keyword.count <= 50 else {
                throw .invalid("when.keyword", "a message.received trigger needs a keyword of 1 to 50 characters")
            }
            guard !KeywordSet.isReserved(keyword) else {
                throw .invalid("when.keyword", "\"\(keyword)\" is one of CTIA's words, which always act for the whole organization")
            }
            // A message Hush reads as a request to stop ("STOP PLEASE", "OPT OUT") never opts
            // anyone back in: that would lift opt-outs on the person's "stop".
            guard then.optIn == nil || KeywordEngine(keywords: KeywordSet(), listKeywords: []).classify(keyword).kind != .optOut else {
                throw .invalid("when.keyword", "\"\(keyword)\" reads as a request to stop, so it cannot opt anyone in")
            }
        }
        guard (then.optOut == nil) != (then.optIn == nil) else {
            throw .invalid("then", "give exactly one of opt_out and opt_in")
        }
        let action = then.optOut != nil ? "opt_out" : "opt_in"
        let change = (then.optOut ?? then.optIn)!
        if let channels = change.channels {
            guard !channels.isEmpty else { throw .invalid("then.\(action).channels", "name at least one channel, or leave channels out") }
            let parsed = try channels.enumerated().map { offset, name throws(HushError) in
                try ChannelSelection(parsing: name, field: "then.\(action).channels[\(offset)]")
            }
            // A message comes from a phone number: a change on email alone would do nothing.
            guard on == .callLogged || parsed.contains(where: { $0.accepts(.phone) }) else {
                throw .invalid("then.\(action).channels", "a message comes from a phone number: name a channel that reaches it (sms, whatsapp, voice or all)")
            }
        }
        if let lists = change.lists, lists.isEmpty {
            throw .invalid("then.\(action).lists", "name at least one list, or leave lists out for the default list")
        }
        return self
    }

    /// Refuses this trigger (409) when one of the organization's `triggers`, other than itself,
    /// fires on the same messages or dispositions: an opt-out and an opt-in firing together
    /// would leave the person opted in under a reply saying they are out. A store calls it in
    /// the transaction that writes the trigger, so two writes cannot both pass it.
    public func requireNoTwin(among triggers: [Trigger]) throws(HushError) {
        guard let twin = triggers.first(where: { $0.id != id && firesWith($0) }) else { return }
        throw HushError(.conflict, field: on == .messageReceived ? "when.keyword" : "when.disposition",
                        "trigger \(twin.id) already acts on this; delete it first")
    }

    /// Whether this trigger and `other` fire on the same messages or dispositions.
    public func firesWith(_ other: Trigger) -> Bool {
        guard on == other.on else { return false }
        switch on {
        case .messageReceived: return when.keyword.map(KeywordEngine.words) == other.when.keyword.map(KeywordEngine.words)
        case .callLogged: return when.disposition.map { $0.trimmed.lowercased() } == other.when.disposition.map { $0.trimmed.lowercased() }
        }
    }

    /// Whether a received message sets this trigger off.
    public func matches(message: String) -> Bool {
        on == .messageReceived && when.keyword.map { KeywordEngine.words($0) == KeywordEngine.words(message) } == true
    }

    public func matches(disposition: String) -> Bool {
        on == .callLogged && when.disposition.map { $0.trimmed.lowercased() == disposition.trimmed.lowercased() } == true
    }
}

/// Something a rep or a dialer logged, such as a call and its disposition. Not a ledger event:
/// triggers may turn it into one.
public struct Activity: Hashable, Sendable {
    public var id: ActivityID
    public var type: String
    public var address: Address
    public var disposition: String
    public var scope: Scope
    public var occurredAt: Date
    public var actor: String

    public init(id: ActivityID = ActivityID(0), type: String, address: Address, disposition: String, scope: Scope, occurredAt: Date, actor: String) {
        self.id = id
        self.type = type
        self.address = address
        self.disposition = disposition
        self.scope = scope
        self.occurredAt = occurredAt
        self.actor = actor
    }
}
