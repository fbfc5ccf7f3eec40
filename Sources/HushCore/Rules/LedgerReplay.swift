/// A point-in-time answer: the opt-outs in force after a run of ledger events, by the same rule
/// the writes that recorded them followed. The live projection and a replay of the ledger never
/// disagree, because both go through `ChangeRules.write(hold:over:)`.
public enum LedgerReplay {
    /// One event of the ledger, as far as a replay needs it; `payload` is what the caller wants
    /// back for the opt-outs still in force.
    public struct Event<Payload> {
        public let kind: EventKind
        public let sequence: Int64
        /// The contact the event was recorded for, nil for the address itself.
        public let contact: ContactID?
        public let channel: ChannelSelection
        public let list: ListID
        public let scope: Scope
        public let hold: Bool
        public let payload: Payload

        public init(
            kind: EventKind, sequence: Int64, contact: ContactID?, channel: ChannelSelection, list: ListID, scope: Scope,
            hold: Bool, payload: Payload
        ) {
            self.kind = kind
            self.sequence = sequence
            self.contact = contact
            self.channel = channel
            self.list = list
            self.scope = scope
            self.hold = hold
            self.payload = payload
        }
    }

    /// The opt-out events in force after `events` (in ledger order), ordered by when the
    /// suppression they stand for began. A held opt-out replacing an unheld one keeps the
    /// original's place. Linear in the number of events.
    public static func standing<Payload>(after events: [Event<Payload>]) -> [Event<Payload>] {
        var standing: [StandingKey: (since: Int64, event: Event<Payload>)] = [:]
        for event in events {
            let key = StandingKey(contact: event.contact, channel: event.channel, list: event.list, scope: event.scope)
            switch event.kind {
            case .optIn:
                standing[key] = nil
            case .optOut:
                let held = standing[key]
                switch ChangeRules.write(hold: event.hold, over: held?.event.hold) {
                case .keep: break
                case .create: standing[key] = (event.sequence, event)
                case .replace: standing[key] = (held?.since ?? event.sequence, event)
                }
            }
        }
        return standing.values.sorted { $0.since < $1.since }.map(\.event)
    }

    /// What one suppression is unique by, within one address's history.
    private struct StandingKey: Hashable {
        let contact: ContactID?
        let channel: ChannelSelection
        let list: ListID
        let scope: Scope
    }
}

extension LedgerReplay.Event: Sendable where Payload: Sendable {}
