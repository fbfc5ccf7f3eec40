import Foundation
import HushCore
import HushStore

/// Turns an inbound message into ledger events and at most one reply.
struct InboundService: Sendable {
    /// A second opt-out reply to the same sender within this window is not sent.
    static let replyWindow: TimeInterval = 24 * 3600
    static let maximumBodyLength = 1_600

    let store: any Directory & InboundStore & Ledger & TriggerStore
    let metrics: ServerMetrics
    let now: @Sendable () -> Date

    struct Received: Sendable {
        var channel: Channel
        var from: String
        var to: String
        var body: String
        var receivedAt: Date?
        var providerMessageID: String?
        /// Set when the provider's own opt-out handling fired (Twilio's `OptOutType`).
        var providerOptOutType: String?
        /// Who passes the message on: `api_key:<id>` or `twilio`.
        var actor: String
    }

    struct Outcome: Sendable {
        /// `nil` for a provider message id seen before: a replay, which changes nothing.
        let message: InboundMessage?
        let result: KeywordResult
        let events: [LedgerEvent]
        let reply: String?
    }

    /// Handles a message once: a provider message id seen before (a claim the pruner has not
    /// forgotten, or a recorded message carrying it) is a replay, answered with no effect and no
    /// reply.
    func handle(_ received: Received, in organization: Organization) async throws -> Outcome {
        guard let id = received.providerMessageID else { return try await process(received, in: organization) }
        guard try await store.claimProviderMessage(id, in: organization.id) else {
            return Outcome(message: nil, result: KeywordResult(kind: .none), events: [], reply: nil)
        }
        do {
            return try await process(received, in: organization)
        } catch {
            try? await store.releaseProviderMessage(id, in: organization.id)
            throw error
        }
    }

    private func process(_ received: Received, in organization: Organization) async throws -> Outcome {
        guard received.channel == .sms || received.channel == .whatsapp else {
            throw Problem.invalid("channel", "inbound messages arrive by sms or whatsapp")
        }
        guard received.body.count <= Self.maximumBodyLength else {
            throw Problem.invalid("body", "a message body has at most \(Self.maximumBodyLength) characters")
        }
        let region = organization.settings.defaultRegion
        let sender = try Self.phone(received.from, field: "from", region: region, whatsApp: received.channel == .whatsapp)
        let recipient = Self.recipient(received.to, region: region)
        let settings = try await store.inboundSettings(of: organization.id)
        let lists = try await store.lists(in: organization.id).filter { $0.definition.channels.contains(received.channel) }
        let listKeywords = lists.flatMap { list in list.definition.keywords.map { (keyword: $0, list: list.id) } }
        var result = KeywordEngine(keywords: settings.keywords, listKeywords: listKeywords).classify(received.body)
        // The provider already treated it as a keyword: follow it rather than ask a person.
        if result.kind == .none || result.kind == .needsReview, let type = received.providerOptOutType?.uppercased() {
            switch type {
            case "STOP": result = KeywordResult(kind: .optOut, keyword: result.keyword ?? "STOP")
            case "START": result = KeywordResult(kind: .optIn, keyword: result.keyword ?? "START")
            case "HELP": result = KeywordResult(kind: .help, keyword: result.keyword ?? "HELP")
            default: break
            }
        }

        let now = self.now()
        var evidence: [String: JSONValue] = [
            "text": .string(received.body), "from": .string(sender.normalized), "to": .string(recipient),
            "channel": .string(received.channel.rawValue),
        ]
        if let keyword = result.keyword { evidence["keyword"] = .string(keyword) }
        if let id = received.providerMessageID { evidence["provider_message_id"] = .string(id) }
        let actor = received.actor

        var events: [LedgerEvent] = []
        var reply: String?
        // A message.received trigger decides before the default keywords.
        let fired = try await store.triggers(in: organization.id).filter { $0.matches(message: received.body) }
        if !fired.isEmpty {
            for trigger in fired {
                var context = evidence
                context["trigger"] = .number(Double(trigger.id.rawValue))
                context["keyword"] = .string(trigger.when.keyword ?? "")
                events += try await run(trigger, for: sender, channel: received.channel, scope: .organization, actor: actor,
                                        evidence: Evidence(context), in: organization)
            }
            let optOut = fired.contains { $0.then.optOut != nil }
            result = KeywordResult(
                kind: optOut ? .optOut : .optIn, keyword: fired[0].when.keyword,
                lists: fired.flatMap { ($0.then.optOut ?? $0.then.optIn)?.lists ?? [] }.map(ListID.init(rawValue:)))
            if !events.isEmpty {
                reply = optOut
                    ? result.lists.compactMap { id in lists.first { $0.id == id }?.definition.message }.first ?? InboundSettings.defaultOptOutReply
                    : InboundSettings.defaultOptInReply
            }
        } else {
        switch result.kind {
        case .optOut:
            let targets: [OptOutList?] = result.lists.isEmpty ? [nil] : result.lists.map { id in lists.first { $0.id == id } }
            let optOuts = targets.map { list in
                OptOut(
                    subject: .address(sender), channel: .only(received.channel), scope: .organization, list: list?.id,
                    source: .keyword, actor: actor, evidence: Evidence(evidence))
            }
            events = try await store.record(optOuts, in: organization.id).flatMap(\.events)
            metrics.optOutsRecorded.increment(by: Int64(events.count))
            let last = try await store.lastOptOutReply(to: sender.normalized, in: organization.id)
            if !events.isEmpty || last.map({ now.timeIntervalSince($0) >= Self.replyWindow }) ?? true {
                reply = targets.compactMap { $0?.definition.message }.first ?? InboundSettings.defaultOptOutReply
            }
        case .optIn:
            // START lifts only what a keyword stopped on this channel (the store refuses the rest).
            let stopped = try await store.suppressions(of: sender, in: organization.id).filter { suppression in
                LiftAuthority.keyword.mayLift(suppression) && suppression.subject == .address(sender.normalized)
                    && (suppression.channel == .only(received.channel) || suppression.channel == .all)
            }
            let consent = try Consent(kind: "keyword", reference: "\(result.keyword ?? "START") from \(sender.normalized)")
            let optIns = stopped.map { suppression in
                OptIn(
                    subject: .address(sender), channel: suppression.channel, scope: suppression.scope, list: suppression.list,
                    source: .keyword, actor: actor, consent: consent, context: Evidence(evidence), authority: .keyword)
            }
            events = try await store.record(optIns, in: organization.id).compactMap(\.event)
            if !events.isEmpty { reply = InboundSettings.defaultOptInReply }
        case .help:
            reply = settings.helpText
        case .needsReview, .none:
            break
        }
        }

        let message = try await store.recordInbound(InboundMessage(
            channel: received.channel, sender: sender.normalized, recipient: recipient, body: received.body,
            providerMessageID: received.providerMessageID, receivedAt: received.receivedAt ?? now, result: result.kind,
            keyword: result.keyword, repliedAt: reply == nil ? nil : now, review: result.kind == .needsReview ? .pending : nil),
            in: organization.id)
        return Outcome(message: message, result: result, events: events, reply: reply)
    }

    /// Applies a trigger's opt-out or opt-in to an address. Opt-ins lift only what the trigger
    /// names, and are recorded as the person's own consent (their message).
    func run(
        _ trigger: Trigger, for address: Address, channel: Channel?, scope: Scope, actor: String, evidence: Evidence,
        in organization: Organization
    ) async throws -> [LedgerEvent] {
        let change = (trigger.then.optOut ?? trigger.then.optIn)!
        let channels: [ChannelSelection] = try change.channels.map { names in
            try names.map { (name) throws(HushError) in try ChannelSelection(parsing: name) }
        } ?? channel.map { [.only($0)] } ?? [.all]
        let lists: [ListID?] = change.lists.map { $0.map { ListID(rawValue: $0) } } ?? [nil]
        // A list deleted since the trigger was made, or no longer covering the channel, cannot
        // take the change: an opt-out then goes on the default list (the evidence says so), as a
        // one-click does, so the person's opt-out is never lost; an opt-in has nothing to lift there.
        let active = try await store.lists(in: organization.id)
        func takes(_ list: ListID?, _ channel: ChannelSelection) -> Bool {
            guard let list else { return true }
            guard let found = active.first(where: { $0.id == list }) else { return false }
            if case .only(let only) = channel { return found.definition.channels.contains(only) }
            return true
        }
        if trigger.then.optOut != nil {
            var optOuts: [OptOut] = []
            for channel in channels where channel.accepts(address.kind) {
                for list in lists {
                    var proof = evidence
                    var target = list
                    if !takes(list, channel), let named = list {
                        proof.fields["trigger_list"] = .number(Double(named.rawValue))
                        proof.fields["recorded_on"] = .string("default: the trigger's list was deleted or no longer covers \(channel)")
                        target = nil
                    }
                    optOuts.append(OptOut(
                        subject: .address(address), channel: channel, scope: scope, list: target, source: .trigger, actor: actor, evidence: proof))
                }
            }
            let events = try await store.record(optOuts, in: organization.id).flatMap(\.events)
            metrics.optOutsRecorded.increment(by: Int64(events.count))
            return events
        }
        let consent = try Consent(kind: "keyword", reference: "trigger \(trigger.id)")
        let optIns = channels.flatMap { channel in
            lists.filter { takes($0, channel) }.map { list in
                OptIn(subject: .address(address), channel: channel, scope: scope, list: list, source: .trigger, actor: actor,
                      consent: consent, context: evidence, authority: .keyword)
            }
        }
        return try await store.record(optIns, in: organization.id).compactMap(\.event)
    }

    /// The number a message was sent to, kept for the record only: normalized when it reads as
    /// a phone number, else as given (a short code such as `898211` reads as none), so that no
    /// message, and no STOP, is refused for its recipient.
    static func recipient(_ text: String, region: Region?) -> String {
        if let address = try? phone(text, field: "to", region: region) { return address.normalized }
        let bare = text.hasPrefix("whatsapp:") ? text.dropFirst("whatsapp:".count) : Substring(text)
        return String(bare.trimmingCharacters(in: .whitespacesAndNewlines).prefix(maximumRecipientLength))
    }

    /// The longest recipient kept as given.
    static let maximumRecipientLength = 64

    /// A phone number as providers send it (`whatsapp:+14155550100` included). A WhatsApp id is
    /// always international, and some providers send it without its `+` (`14155550100`): read in
    /// the organization's region, that was a stranger's national number.
    static func phone(_ text: String, field: String, region: Region?, whatsApp: Bool = false) throws -> Address {
        var bare = text.hasPrefix("whatsapp:") ? String(text.dropFirst("whatsapp:".count)) : text
        if whatsApp || text.hasPrefix("whatsapp:"), !bare.isEmpty, bare.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            bare = "+" + bare
        }
        let address: Address
        do {
            address = try Address(parsing: bare, region: region)
        } catch {
            throw HushError.invalid(field, error.message)
        }
        guard address.kind == .phone else { throw Problem.invalid(field, "\(field) must be a phone number") }
        return address
    }
}
