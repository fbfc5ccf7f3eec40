import Foundation

/// A request to stop contact.
public struct OptOut: Hashable, Sendable {
    public var subject: Subject
    public var channel: ChannelSelection
    public var scope: Scope
    /// The list it is recorded on; `nil` is the organization's `default` list.
    public var list: ListID?
    public var source: Source
    /// Who made the change: a key id, `recipient`, an importer.
    public var actor: String
    public var evidence: Evidence
    /// Held (admin keys only): lifted only by an admin opt-in with evidence, never by a link,
    /// a keyword, a trigger or a CRM sync.
    public var hold: Bool

    public init(
        subject: Subject, channel: ChannelSelection, scope: Scope = .organization, list: ListID? = nil,
        source: Source = .api, actor: String, evidence: Evidence = Evidence(), hold: Bool = false
    ) {
        self.hold = hold
        self.subject = subject
        self.channel = channel
        self.scope = scope
        self.list = list
        self.source = source
        self.actor = actor
        self.evidence = evidence
    }
}

/// A request to lift exactly one suppression, backed by consent.
public struct OptIn: Hashable, Sendable {
    public var subject: Subject
    public var channel: ChannelSelection
    public var scope: Scope
    public var list: ListID?
    public var source: Source
    public var actor: String
    public var consent: Consent
    /// What else backs it (the IP and user agent of a confirmation click), kept beside the consent.
    public var context: Evidence
    /// Who lifts, and so what may be lifted: the store lifts nothing this does not allow.
    public var authority: LiftAuthority

    public init(
        subject: Subject, channel: ChannelSelection, scope: Scope = .organization, list: ListID? = nil,
        source: Source = .api, actor: String, consent: Consent, context: Evidence = Evidence(), authority: LiftAuthority
    ) {
        self.authority = authority
        self.subject = subject
        self.channel = channel
        self.scope = scope
        self.list = list
        self.source = source
        self.actor = actor
        self.consent = consent
        self.context = context
    }

    /// The evidence the ledger keeps: the consent and its context.
    public var evidence: Evidence {
        Evidence(context.fields.merging(consent.evidence.fields) { _, consent in consent })
    }
}

/// One row of the append-only ledger.
public struct LedgerEvent: Hashable, Sendable {
    public let sequence: Int64
    public let organization: OrganizationID
    public let kind: EventKind
    public let recordedAt: Date
    /// The address key (normalized, or its keyed hash once erased) or the contact.
    public let subject: SubjectKey
    public let channel: ChannelSelection
    public let scope: Scope
    public let list: ListID
    public let source: Source
    public let actor: String
    /// Empty once the person was erased.
    public let evidence: Evidence
    /// An opt-out recorded as held, or an opt-in that lifted a held one.
    public let hold: Bool

    public init(
        sequence: Int64, organization: OrganizationID, kind: EventKind, recordedAt: Date, subject: SubjectKey,
        channel: ChannelSelection, scope: Scope, list: ListID, source: Source, actor: String, evidence: Evidence,
        hold: Bool = false
    ) {
        self.hold = hold
        self.sequence = sequence
        self.organization = organization
        self.kind = kind
        self.recordedAt = recordedAt
        self.subject = subject
        self.channel = channel
        self.scope = scope
        self.list = list
        self.source = source
        self.actor = actor
        self.evidence = evidence
    }
}

/// A subject as stored: an address key (which may be an erased hash) or a contact id.
///
/// Its one text form (`stored`) is how the ledger, the projection, the index and exports name a
/// subject: the normalized address, `erased:<keyed hash>` once erased, or `contact:<external id>`.
/// No other code builds or takes apart those strings.
public enum SubjectKey: Hashable, Sendable, CustomStringConvertible {
    case address(String)
    case contact(String)

    /// What begins the stored form of a contact.
    public static let contactPrefix = "contact:"

    /// Reads the stored form.
    public init(stored: String) {
        self = stored.hasPrefix(Self.contactPrefix) ? .contact(String(stored.dropFirst(Self.contactPrefix.count))) : .address(stored)
    }

    /// The stored form.
    public var stored: String {
        switch self {
        case .address(let key): key
        case .contact(let id): Self.contactPrefix + id
        }
    }

    /// Whether this is an erased address: its key is a keyed hash, not the address.
    public var isErased: Bool {
        if case .address(let key) = self { ErasureKey.isErased(key) } else { false }
    }

    public var description: String { stored }
}

/// Current state: the subject is opted out of `channel` on `list` at `scope`, since the event.
public struct Suppression: Hashable, Sendable {
    public let organization: OrganizationID
    public let subject: SubjectKey
    public let channel: ChannelSelection
    public let list: ListID
    public let scope: Scope
    public let since: Date
    public let source: Source
    public let eventSequence: Int64
    /// Lifted only by an admin opt-in with evidence.
    public let hold: Bool

    public init(
        organization: OrganizationID, subject: SubjectKey, channel: ChannelSelection, list: ListID, scope: Scope,
        since: Date, source: Source, eventSequence: Int64, hold: Bool = false
    ) {
        self.hold = hold
        self.organization = organization
        self.subject = subject
        self.channel = channel
        self.list = list
        self.scope = scope
        self.since = since
        self.source = source
        self.eventSequence = eventSequence
    }
}

/// What recording an opt-out did.
public struct OptOutOutcome: Hashable, Sendable {
    /// Every suppression the opt-out stands for (one; more when a channel-wide opt-out also
    /// reached the person's contacts).
    public let suppressions: [Suppression]
    /// The events written; empty when everything was already in force.
    public let events: [LedgerEvent]

    public init(suppressions: [Suppression], events: [LedgerEvent]) {
        self.suppressions = suppressions
        self.events = events
    }

    public var alreadyInForce: Bool { events.isEmpty }
}

/// What recording an opt-in did.
public struct OptInOutcome: Hashable, Sendable {
    /// The suppression lifted, or `nil` when none matched (and nothing was written).
    public let lifted: Suppression?
    public let event: LedgerEvent?

    public init(lifted: Suppression?, event: LedgerEvent?) {
        self.lifted = lifted
        self.event = event
    }
}
