import Foundation
import Hummingbird
import HushCore
import HushStore

/// `/v1/inbound`, the review queue, and Twilio's inbound-message webhook.
struct InboundRoutes: Sendable {
    let store: any AccessStore & Directory & InboundStore & Ledger & ConnectorRecords
    let service: InboundService
    let configuration: ServerConfiguration
    /// Posts per minute to one organization's Twilio route, whoever sends them.
    let twilioLimiter: RateLimiter
    let readYourWrites: ReadYourWrites

    func register(on group: V1Group) {
        group.on(.post, "inbound", roles: [.admin, .inbound]) { request, context in try await inbound(request, context) }
        group.on(.get, "review") { request, context in try await review(request, context) }
        group.on(.post, "review/:id") { request, context in try await decide(request, context) }
        group.on(.post, "review/crm/:id", roles: [.admin]) { request, context in try await dismiss(request, context) }
    }

    func registerTwilio(on router: Router<HushRequestContext>) {
        router.post("inbound/twilio/:org") { request, context in try await twilio(request, context) }
    }

    struct InboundInput: APIInput {
        static let fields: Set<String> = ["channel", "from", "to", "body", "received_at", "provider_message_id"]
        let channel: String
        let from: String
        let to: String
        let body: String
        let receivedAt: Date?
        let providerMessageID: String?

        enum CodingKeys: String, CodingKey {
            case channel, from, to, body
            case receivedAt = "received_at"
            case providerMessageID = "provider_message_id"
        }
    }

    struct MessageJSON: Encodable, Sendable {
        let id: MessageID
        let channel: String
        let from: String
        let to: String
        let body: String
        let receivedAt: Date
        let result: String
        let keyword: String?
        let review: String?

        enum CodingKeys: String, CodingKey {
            case id, channel, from, to, body, result, keyword, review
            case receivedAt = "received_at"
        }

        init(_ message: InboundMessage) {
            id = message.id
            channel = message.channel.rawValue
            from = message.sender
            to = message.recipient
            body = message.body
            receivedAt = message.receivedAt
            result = message.result.rawValue
            keyword = message.keyword
            review = message.review?.rawValue
        }
    }

    struct InboundOutput: Encodable, Sendable {
        /// `null` for a replayed `provider_message_id`, whose `result` is `duplicate`.
        @NullEncoded var message: MessageJSON?
        let result: String
        @NullEncoded var keyword: String?
        let lists: [Int64]
        let events: [EventJSON]
        @NullEncoded var reply: String?
        /// The ledger position the answering node has applied (see `ReadYourWrites`).
        let sequence: Int64

        init(_ outcome: InboundService.Outcome, sequence: Int64) {
            message = outcome.message.map(MessageJSON.init)
            result = outcome.message == nil ? "duplicate" : outcome.result.kind.rawValue
            keyword = outcome.result.keyword
            lists = outcome.result.lists.map(\.rawValue)
            events = outcome.events.map(EventJSON.init)
            reply = outcome.reply
            self.sequence = sequence
        }

        enum CodingKeys: String, CodingKey {
            case message, result, keyword, lists, events, reply, sequence
        }
    }

    private func inbound(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        let input = try await request.input(InboundInput.self, context: context)
        let organization = try await store.requireOrganization(caller)
        let outcome = try await service.handle(InboundService.Received(
            channel: try Channel(parsing: input.channel), from: input.from, to: input.to, body: input.body, receivedAt: input.receivedAt,
            providerMessageID: input.providerMessageID, providerOptOutType: nil, actor: caller.actor), in: organization)
        let sequence = await readYourWrites.store.appliedSequence()
        return try await readYourWrites.answer(
            JSONBody(InboundOutput(outcome, sequence: sequence)), sequence: sequence, to: request, context: context)
    }

    // MARK: Review queue

    struct ReviewOutput: Encodable, Sendable {
        let messages: [MessageJSON]
        let crmUnchecks: [CRMUncheckJSON]

        enum CodingKeys: String, CodingKey {
            case messages
            case crmUnchecks = "crm_unchecks"
        }
    }

    /// A CRM field unticked: not consent. An admin lifts the suppression with `POST /v1/opt-ins`
    /// and evidence (kind `crm_consent`), or dismisses the item.
    struct CRMUncheckJSON: Encodable, Sendable {
        let review: CRMReview
        let kind = "crm_uncheck"

        enum CodingKeys: String, CodingKey {
            case id, kind, connector, entity, field, contact, status, reasserted
            case recordID = "record_id"
            case crmUser = "crm_user"
            case changedAt = "changed_at"
            case createdAt = "created_at"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(review.id, forKey: .id)
            try container.encode(kind, forKey: .kind)
            try container.encode(review.connector, forKey: .connector)
            try container.encode(review.record.entity, forKey: .entity)
            try container.encode(review.record.id, forKey: .recordID)
            try container.encode(review.field, forKey: .field)
            try container.encode(review.crmUser, forKey: .crmUser)
            try container.encode(review.changedAt, forKey: .changedAt)
            try container.encode(review.contact.externalID, forKey: .contact)
            try container.encode(review.status.rawValue, forKey: .status)
            try container.encode(review.reasserted, forKey: .reasserted)
            try container.encode(review.createdAt, forKey: .createdAt)
        }
    }

    /// What waits for a person: inbound messages (after `after`) and CRM unchecks (after
    /// `crm_after`), each oldest first.
    private func review(_ request: Request, _ context: HushRequestContext) async throws -> JSONBody<ReviewOutput> {
        let caller = try context.caller()
        let query = try Query(request, accepting: ["limit", "after", "crm_after"])
        let limit = try query.integer("limit", default: 100, range: 1...1_000)
        let messages = try await store.inboundMessages(
            in: caller.organization, pendingReviewOnly: true, after: try query.cursor("after"), limit: limit)
        let unchecks = try await store.crmReviews(in: caller.organization, pendingOnly: true, after: try query.cursor("crm_after"), limit: limit)
        return JSONBody(ReviewOutput(messages: messages.map(MessageJSON.init), crmUnchecks: unchecks.map(CRMUncheckJSON.init)))
    }

    struct DismissInput: APIInput {
        static let fields: Set<String> = ["decision"]
        let decision: String
    }

    /// Settles a CRM uncheck without lifting anything (`{"decision": "dismiss"}`): the
    /// suppression stays; lifting it is `POST /v1/opt-ins` with evidence.
    private func dismiss(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        let input = try await request.input(DismissInput.self, context: context)
        guard input.decision == "dismiss" else {
            throw Problem.invalid("decision", "a CRM uncheck is dismissed (decision dismiss); lift the opt-out with POST /v1/opt-ins and evidence")
        }
        let text = context.parameters.get("id") ?? ""
        guard let id = CRMReviewID(text), try await store.dismissCRMReview(id, in: caller.organization) else {
            throw HushError(.notFound, field: "id", "no CRM uncheck \"\(text)\" awaiting review in this organization")
        }
        return Response(status: .noContent)
    }

    struct DecisionInput: APIInput {
        static let fields: Set<String> = ["decision"]
        let decision: String
    }

    struct DecisionOutput: Encodable, Sendable {
        let message: MessageJSON
        let events: [EventJSON]
        /// The ledger position the answering node has applied (see `ReadYourWrites`).
        let sequence: Int64
    }

    /// A person decides a message that needs review: `opt_out` records it as the sender's
    /// opt-out (the reviewer named in the evidence), `ignore` records nothing.
    private func decide(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.requireAdmin("deciding a message under review")
        let input = try await request.input(DecisionInput.self, context: context)
        guard let decision = InboundMessage.Review(rawValue: input.decision), decision != .pending else {
            throw Problem.invalid("decision", "decision is opt_out or ignore")
        }
        let text = context.parameters.get("id") ?? ""
        guard let id = MessageID(text), let message = try await store.inboundMessage(id, in: caller.organization) else {
            throw HushError(.notFound, field: "id", "no inbound message \"\(text)\" in this organization")
        }
        guard message.review == .pending else {
            throw HushError(.conflict, field: "id", "this message is not awaiting review")
        }
        // The opt-out is recorded before the message leaves the queue, so that a failure in
        // between leaves it waiting for a retry, which records nothing twice (opt-outs are
        // idempotent), rather than settled with nothing recorded.
        var events: [LedgerEvent] = []
        if decision == .optOut {
            let optOut = OptOut(
                subject: .address(Address(normalized: message.sender, kind: .phone, input: message.sender)), channel: .only(message.channel),
                scope: .organization, source: .keyword, actor: caller.actor,
                evidence: Evidence([
                    "text": .string(message.body), "from": .string(message.sender), "inbound_message": .number(Double(message.id.rawValue)),
                    "reviewed_by": .string(caller.actor),
                ]))
            events = try await store.record(optOut, in: caller.organization).events
        }
        guard try await store.settleReview(id, as: decision, in: caller.organization) || decision == .optOut else {
            throw HushError(.conflict, field: "id", "this message is not awaiting review")
        }
        var settled = message
        settled.review = decision
        let sequence = await readYourWrites.store.appliedSequence()
        return try await readYourWrites.answer(
            JSONBody(DecisionOutput(message: MessageJSON(settled), events: events.map(EventJSON.init), sequence: sequence)),
            sequence: sequence, to: request, context: context)
    }

    // MARK: Twilio

    /// Twilio's inbound-message webhook: form-encoded `From`, `To`, `Body`, `MessageSid` and
    /// `OptOutType`, signed with the organization's auth token (`X-Twilio-Signature` over the URL
    /// Twilio requested, rebuilt from the public URL, and the sorted parameters). An organization
    /// without a token, an unknown one and a bad signature get the same 403, so names cannot be
    /// told apart; nothing is recorded. The answer is TwiML carrying the reply, or an empty
    /// `<Response/>` (also for a `MessageSid` seen before, which changes nothing), with the
    /// ledger position in `Hush-Sequence` like every write.
    private func twilio(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let name = context.parameters.get("org") ?? ""
        let form = try await FormBody(request, context: context, limit: 64 * 1024)
        // What is refused counts against the caller's address, never against the organization's
        // messages: unsigned posts to a guessable name would otherwise use up its allowance and
        // have Twilio's real STOPs refused (Twilio does not retry an inbound message).
        func refused() -> HushError {
            guard twilioLimiter.allow("twilio-refused:" + RateLimiter.key(forIP: context.remoteIP)) else {
                return HushError(.rateLimited, "too many refused posts from this address; try again in a minute")
            }
            return HushError(.forbidden, field: "X-Twilio-Signature", "the request is not signed by this organization's Twilio account")
        }
        guard let organization = try await store.organization(named: name),
              let token = try await store.inboundSettings(of: organization.id).twilioAuthToken,
              let signature = request.headers[.twilioSignature]
        else { throw refused() }
        var url = configuration.baseURL + "/inbound/twilio/" + name
        if let query = request.uri.query, !query.isEmpty { url += "?" + query }
        guard TwilioSignature.isValid(signature, authToken: token, url: url, parameters: form.fields) else { throw refused() }
        guard twilioLimiter.allow("twilio:" + name) else {
            throw HushError(.rateLimited, "too many messages for this organization; nothing was recorded, try again in a minute")
        }
        guard let from = form.first("From"), let to = form.first("To") else {
            throw Problem.invalid("From", "Twilio sends From and To")
        }
        let outcome = try await service.handle(InboundService.Received(
            channel: from.hasPrefix("whatsapp:") ? .whatsapp : .sms, from: from, to: to, body: form.first("Body") ?? "",
            receivedAt: nil, providerMessageID: form.first("MessageSid"), providerOptOutType: form.first("OptOutType"),
            actor: "twilio"), in: organization)
        var headers = HTTPFields()
        headers[.contentType] = "text/xml; charset=utf-8"
        headers[ReadYourWrites.header] = String(await readYourWrites.store.appliedSequence())
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: TwiML.response(reply: outcome.reply))))
    }
}

/// Twilio's response markup.
enum TwiML {
    static func response(reply: String?) -> String {
        guard let reply else { return #"<?xml version="1.0" encoding="UTF-8"?><Response/>"# }
        return #"<?xml version="1.0" encoding="UTF-8"?><Response><Message>"# + escape(reply) + "</Message></Response>"
    }

    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}

extension HTTPFields.Element.Name {
    static let twilioSignature = Self("X-Twilio-Signature")!
}
