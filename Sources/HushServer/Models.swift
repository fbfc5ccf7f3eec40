import Foundation
import HushCore

/// How suppressions, events and decisions look on the wire. Lists are named by id.
struct SuppressionJSON: Encodable, Sendable {
    let address: String?
    let contact: String?
    let channel: String
    let scope: String
    let list: Int64
    let since: Date
    let source: String
    let eventID: Int64

    enum CodingKeys: String, CodingKey {
        case address, contact, channel, scope, list, since, source
        case eventID = "event_id"
    }

    init(_ suppression: Suppression) {
        (address, contact) = suppression.subject.json
        channel = suppression.channel.description
        scope = suppression.scope.path
        list = suppression.list.rawValue
        since = suppression.since
        source = suppression.source.rawValue
        eventID = suppression.eventSequence
    }
}

struct EventJSON: Encodable, Sendable {
    let id: Int64
    let type: String
    let occurredAt: Date
    let address: String?
    let contact: String?
    let channel: String
    let scope: String
    let list: Int64
    let source: String
    let actor: String
    let evidence: Evidence

    enum CodingKeys: String, CodingKey {
        case id, type, address, contact, channel, scope, list, source, actor, evidence
        case occurredAt = "occurred_at"
    }

    init(_ event: LedgerEvent) {
        id = event.sequence
        type = event.kind.rawValue
        occurredAt = event.recordedAt
        (address, contact) = event.subject.json
        channel = event.channel.description
        scope = event.scope.path
        list = event.list.rawValue
        source = event.source.rawValue
        actor = event.actor
        evidence = event.evidence
    }
}

/// One suppression that blocks a check.
struct BlockJSON: Encodable, Sendable {
    let list: Int64
    let scope: String
    let channel: String
    let since: Date
    let source: String
    let eventID: Int64
    let contact: String?

    enum CodingKeys: String, CodingKey {
        case list, scope, channel, since, source, contact
        case eventID = "event_id"
    }

    init(_ block: Decision.Block) {
        list = block.list.rawValue
        scope = block.scope.path
        channel = block.channel.description
        since = block.since
        source = block.source.rawValue
        eventID = block.eventSequence
        contact = block.contact?.externalID
    }
}

extension SubjectKey {
    var json: (address: String?, contact: String?) {
        switch self {
        case .address(let key): (key, nil)
        case .contact(let id): (nil, id)
        }
    }
}

extension Address.Kind {
    /// The reason a blocked recipient is reported with (the seed's "Optout Email"/"Optout Number").
    var optOutReason: String { self == .email ? "optout_email" : "optout_number" }
}
