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

    /// Whether the person may still confirm it: not confirmed and not expired.
    public func isPending(at now: Date) -> Bool {
        confirmedAt == nil && !isExpired(at: now)
    }

    /// Among requests made for the same address, channel, scope and list, the one a new request
    /// reuses instead of being stored and announced again: the newest still pending.
    public static func reused(among requests: [OptInRequest], at now: Date) -> OptInRequest? {
        requests.filter { $0.isPending(at: now) }.max { $0.id < $1.id }
    }
}

extension OptInRequest {
    /// What a request may lift, fixed when it is made: the suppressions blocking what it names
    /// then that the person made themselves (`LiftAuthority.personMade`), except held ones,
    /// which only an admin with evidence lifts, and except a contact's
    /// opt-outs that began before the request's address was the contact's (`linkedAt`: when the
    /// address was linked to each contact, unix milliseconds). The link reaches that address, so
    /// its confirmation speaks for the person only as far as the address was theirs: anyone may
    /// link an address of their own to someone's contact, but not before that person opted out.
    public static func liftable(_ blocking: [Decision.Block], linkedAt: [ContactID: Int64]) -> Set<Int64> {
        Set(blocking.filter { block in
            guard LiftAuthority.personMayLift(block) else { return false }
            guard let contact = block.contact else { return true }
            return linkedAt[contact].map { $0 <= Int64((block.since.timeIntervalSince1970 * 1000).rounded()) } ?? false
        }.map(\.eventSequence))
    }

    /// The opt-ins confirming the request makes, as the person's own consent: one for each
    /// suppression blocking it now that it saw when it was made. The store lifts each only if
    /// `LiftAuthority.confirmation` allows it.
    public func confirmingOptIns(_ blocking: [Decision.Block], actor: String, context: Evidence) throws(HushError) -> [OptIn] {
        let consent = try Consent(kind: "confirmed_link", reference: "opt_in_request:\(id)")
        return blocking.filter { lifts.contains($0.eventSequence) }.map { block in
            OptIn(
                subject: block.contact.map { .contact($0) } ?? .address(address), channel: block.channel, scope: block.scope,
                list: block.list, source: .link, actor: actor, consent: consent, context: context,
                authority: .confirmation(lifts))
        }
    }
}
