import Foundation

/// An event announced to webhook endpoints. It is written to the outbox in the transaction that
/// made the change, so it exists exactly when the change was committed.
public struct WebhookEvent: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        case optOutCreated = "opt_out.created"
        case optInCreated = "opt_in.created"
        case optInRequested = "opt_in.requested"
        case inboundNeedsReview = "inbound.needs_review"
        case sendBlocked = "send.blocked"
        case connectorFailed = "connector.failed"
    }

    /// The outbox row: the event's id in the payload and part of every `webhook-id`.
    public var id: Int64
    public var kind: Kind
    /// The ledger sequence, for `opt_out.created` and `opt_in.created`.
    public var sequence: Int64?
    public var occurredAt: Date
    /// The list the event is about, which endpoints filtering by list match on.
    public var list: ListID?
    /// The `data` object, as JSON text.
    public var data: String

    public init(id: Int64 = 0, kind: Kind, sequence: Int64?, occurredAt: Date, list: ListID?, data: String) {
        self.id = id
        self.kind = kind
        self.sequence = sequence
        self.occurredAt = occurredAt
        self.list = list
        self.data = data
    }

    /// The event a ledger event announces. `address` is the address in clear (nil for a contact
    /// or an erased address).
    public init(_ event: LedgerEvent, address: String?, listName: String) {
        let contact: String? = if case .contact(let id) = event.subject { id } else { nil }
        var json = JSONWriter()
        json.raw("{\"address\":")
        json.optionalString(address)
        json.raw(",\"contact\":")
        json.optionalString(contact)
        json.raw(",\"channel\":")
        json.string(event.channel.description)
        json.raw(",\"scope\":")
        json.string(event.scope.path)
        json.raw(",\"list\":")
        json.integer(event.list.rawValue)
        json.raw(",\"list_name\":")
        json.string(listName)
        json.raw(",\"source\":")
        json.string(event.source.rawValue)
        json.raw(",\"actor\":")
        json.string(event.actor)
        json.raw(",\"hold\":")
        json.bool(event.hold)
        json.raw(",\"evidence\":")
        JSONValue.write(event.evidence.fields, to: &json)
        json.raw("}")
        self.init(
            kind: event.kind == .optOut ? .optOutCreated : .optInCreated, sequence: event.sequence, occurredAt: event.recordedAt,
            list: event.list, data: String(decoding: json.bytes, as: UTF8.self))
    }

    /// `opt_in.requested`: a person asked to be contacted again and was sent a confirmation link.
    public init(requested request: OptInRequest, listName: String, confirmURL: String) {
        var json = JSONWriter()
        json.raw("{\"request\":")
        json.integer(request.id)
        json.raw(",\"address\":")
        json.string(request.address.normalized)
        json.raw(",\"contact\":")
        json.optionalString(request.contact?.externalID)
        json.raw(",\"channel\":")
        json.string(request.channel.description)
        json.raw(",\"scope\":")
        json.string(request.scope.path)
        json.raw(",\"list\":")
        json.integer(request.list?.rawValue ?? 0)
        json.raw(",\"list_name\":")
        json.string(listName)
        json.raw(",\"requested_by\":")
        json.string(request.requestedBy)
        json.raw(",\"confirm_url\":")
        json.string(confirmURL)
        json.raw(",\"expires_at\":")
        if let expires = request.expiresAt { json.date(expires) } else { json.raw("null") }
        json.raw("}")
        self.init(kind: .optInRequested, sequence: nil, occurredAt: request.createdAt, list: request.list, data: String(decoding: json.bytes, as: UTF8.self))
    }

    /// `inbound.needs_review`: a reply that may mean "stop" waits for a person.
    public init(review message: InboundMessage) {
        var json = JSONWriter()
        json.raw("{\"message\":")
        json.integer(message.id)
        json.raw(",\"channel\":")
        json.string(message.channel.rawValue)
        json.raw(",\"from\":")
        json.string(message.sender)
        json.raw(",\"to\":")
        json.string(message.recipient)
        json.raw(",\"body\":")
        json.string(message.body)
        json.raw(",\"keyword\":")
        json.optionalString(message.keyword)
        json.raw(",\"received_at\":")
        json.date(message.receivedAt)
        json.raw("}")
        self.init(kind: .inboundNeedsReview, sequence: nil, occurredAt: message.receivedAt, list: nil, data: String(decoding: json.bytes, as: UTF8.self))
    }

    /// `send.blocked`: a send was checked and some of its recipients were held back; the report
    /// says who and why (`GET /v1/sends/{id}/report?status=blocked`).
    public init(blocked send: Send) {
        var json = JSONWriter()
        json.raw("{")
        send.writeFields(id: send.id, to: &json)
        json.raw("}")
        self.init(kind: .sendBlocked, sequence: nil, occurredAt: send.createdAt, list: nil, data: String(decoding: json.bytes, as: UTF8.self))
    }

    /// `connector.failed`: a CRM connector left `ok` (throttled, auth_failed, error); its status
    /// says more (`GET /v1/connectors/{id}/status`).
    public init(failed connector: Connector, state: ConnectorState, at date: Date) {
        var json = JSONWriter()
        json.raw("{\"connector\":")
        json.integer(connector.id.rawValue)
        json.raw(",\"name\":")
        json.string(connector.name)
        json.raw(",\"provider\":")
        json.string(connector.provider.rawValue)
        json.raw(",\"state\":")
        json.string(state.health.rawValue)
        json.raw(",\"error_code\":")
        json.optionalString(state.lastError?.code)
        json.raw(",\"error\":")
        json.optionalString(state.lastError?.message)
        json.raw("}")
        self.init(kind: .connectorFailed, sequence: nil, occurredAt: date, list: nil, data: String(decoding: json.bytes, as: UTF8.self))
    }

    /// The Standard Webhooks message id: the same for every attempt and replay of this event to
    /// this endpoint, so receivers can drop duplicates. A ledger event is named by its sequence
    /// (`msg_l42_3`), so its id outlives the outbox row; other events by their row (`msg_e17_3`).
    public func webhookID(endpoint: WebhookID) -> String {
        if let sequence { return "msg_l\(sequence)_\(endpoint)" }
        return "msg_e\(id)_\(endpoint)"
    }

    /// `{"id", "type", "sequence", "occurred_at", "data"}`.
    public var body: [UInt8] {
        var json = JSONWriter(capacity: data.utf8.count + 128)
        json.raw("{\"id\":")
        json.integer(id)
        json.raw(",\"type\":")
        json.string(kind.rawValue)
        json.raw(",\"sequence\":")
        if let sequence { json.integer(sequence) } else { json.raw("null") }
        json.raw(",\"occurred_at\":")
        json.date(occurredAt)
        json.raw(",\"data\":")
        json.bytes += data.utf8
        json.raw("}")
        return json.bytes
    }

    /// The body a list's own webhook receives for an opt-out on it, in the seed's format and
    /// order: `{"opt_list_name", "mobile", "email", "channel_id"}`, the address under `mobile`
    /// or `email` and the other null.
    public var listBody: [UInt8] {
        let data = try? JSONDecoder().decode(LedgerData.self, from: Data(data.utf8))
        let address = data?.address
        let isPhone = address?.hasPrefix("+") ?? false
        var json = JSONWriter(capacity: 160)
        json.raw("{\"opt_list_name\":")
        json.string(data?.listName ?? "")
        json.raw(",\"mobile\":")
        json.optionalString(isPhone ? address : nil)
        json.raw(",\"email\":")
        json.optionalString(isPhone ? nil : address)
        json.raw(",\"channel_id\":")
        json.string(data?.channel ?? "")
        json.raw("}")
        return json.bytes
    }
}

extension WebhookEvent {
    /// What a list webhook reads back from a ledger event's data.
    struct LedgerData: Decodable {
        let address: String?
        let channel: String
        let listName: String

        enum CodingKeys: String, CodingKey {
            case address, channel
            case listName = "list_name"
        }
    }
}
