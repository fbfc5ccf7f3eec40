import Foundation
import HushCore

/// How suppressions, events and decisions look on the wire. Lists are named by id; a block also
/// gives the list's name.
struct SuppressionJSON: Encodable, Sendable {
    let address: String?
    let contact: String?
    let channel: String
    let scope: String
    let list: Int64
    let since: Date
    let source: String
    let eventID: Int64
    let hold: Bool

    enum CodingKeys: String, CodingKey {
        case address, contact, channel, scope, list, since, source, hold
        case eventID = "event_id"
    }

    init(_ suppression: Suppression) {
        (address, contact) = suppression.subject.json
        channel = suppression.channel.description
        scope = suppression.scope.path
        list = suppression.list.rawValue
        since = suppression.since
        hold = suppression.hold
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
    let hold: Bool
    let evidence: Evidence

    enum CodingKeys: String, CodingKey {
        case id, type, address, contact, channel, scope, list, source, actor, hold, evidence
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
        hold = event.hold
        evidence = event.evidence
    }
}

extension Decision.Block {
    /// One suppression that blocks a check, keys in sorted order; `contact` only when the
    /// opt-out was recorded for a contact.
    func write(to json: inout JSONWriter) {
        json.raw("{\"channel\":")
        json.string(channel.description)
        if let contact {
            json.raw(",\"contact\":")
            json.string(contact.externalID)
        }
        json.raw(",\"event_id\":")
        json.integer(eventSequence)
        json.raw(",\"hold\":")
        json.bool(hold)
        json.raw(",\"list\":")
        json.integer(list.rawValue)
        json.raw(",\"list_name\":")
        json.string(listName)
        json.raw(",\"scope\":")
        json.string(scope.path)
        json.raw(",\"since\":")
        json.date(since)
        json.raw(",\"source\":")
        json.string(source.rawValue)
        json.raw("}")
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

/// An optional the API writes as `null` when absent, so clients see every field. (Synthesized
/// `Encodable` leaves nil optionals out.)
@propertyWrapper
struct NullEncoded<Value: Encodable & Sendable>: Encodable, Sendable {
    var wrappedValue: Value?

    init(wrappedValue: Value?) {
        self.wrappedValue = wrappedValue
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}
