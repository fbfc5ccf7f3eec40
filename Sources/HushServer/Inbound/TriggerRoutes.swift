import Foundation
import Hummingbird
import HushCore
import HushStore

/// `/v1/triggers` and `/v1/activities`: rules, and the logged calls they act on.
struct TriggerRoutes: Sendable {
    let store: any AccessStore & TriggerStore
    let service: InboundService
    let now: @Sendable () -> Date
    let readYourWrites: ReadYourWrites

    func register(on group: V1Group) {
        group.on(.post, "triggers") { request, context in try await create(request, context) }
        group.on(.get, "triggers") { _, context in try await all(context) }
        group.on(.get, "triggers/:id") { _, context in try await one(context) }
        group.on(.put, "triggers/:id") { request, context in try await replace(request, context) }
        group.on(.delete, "triggers/:id") { _, context in try await delete(context) }
        group.on(.post, "activities", roles: [.admin, .inbound]) { request, context in try await activity(request, context) }
    }

    struct TriggerInput: APIInput {
        static let fields: Set<String> = ["on", "when", "then"]
        let on: String
        let when: Strict<Trigger.Condition>
        let then: Strict<ActionInput>
    }

    /// A trigger's `then`, its `opt_out` and `opt_in` read with `Strict`, so unknown fields are
    /// refused at every depth (`then.opt_out.chanels`).
    struct ActionInput: APIInput {
        static let fields: Set<String> = ["opt_out", "opt_in"]
        let action: Trigger.Action

        enum CodingKeys: String, CodingKey {
            case optOut = "opt_out"
            case optIn = "opt_in"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            action = Trigger.Action(
                optOut: try container.decodeIfPresent(Strict<Trigger.Change>.self, forKey: .optOut)?.value,
                optIn: try container.decodeIfPresent(Strict<Trigger.Change>.self, forKey: .optIn)?.value)
        }
    }

    struct TriggerJSON: Encodable, Sendable {
        let trigger: Trigger

        /// Only its own event's condition: a trigger stored before the other one was refused
        /// may hold both, and only its own ever fired.
        func encode(to encoder: any Encoder) throws {
            var shown = trigger
            switch trigger.on {
            case .callLogged: shown.when.keyword = nil
            case .messageReceived: shown.when.disposition = nil
            }
            try shown.encode(to: encoder)
        }
    }

    struct TriggersJSON: Encodable, Sendable {
        let triggers: [TriggerJSON]
    }

    private func create(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.requireAdmin("creating a trigger")
        let trigger = try await definition(request, context)
        let stored = try await store.createTrigger(trigger, in: caller.organization)
        return try JSONBody(TriggerJSON(trigger: stored), status: .created).response(from: request, context: context)
    }

    /// A whole new definition for a trigger (the body a create takes), under the same rules.
    private func replace(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.requireAdmin("changing a trigger")
        let id = try triggerID(context)
        guard try await store.triggers(in: caller.organization).contains(where: { $0.id == id }) else { throw notFound(context) }
        var trigger = try await definition(request, context)
        trigger.id = id
        guard let stored = try await store.updateTrigger(trigger, in: caller.organization) else { throw notFound(context) }
        return try JSONBody(TriggerJSON(trigger: stored)).response(from: request, context: context)
    }

    /// The trigger a body defines, validated.
    private func definition(_ request: Request, _ context: HushRequestContext) async throws -> Trigger {
        let input = try await request.input(TriggerInput.self, context: context)
        guard let event = Trigger.Event(rawValue: input.on) else {
            throw Problem.invalid("on", "on is call.logged or message.received")
        }
        // The store refuses a trigger on another one's words (`Trigger.requireNoTwin`) in the
        // transaction that writes it.
        return try Trigger(on: event, when: input.when.value, then: input.then.value.action).validated()
    }

    private func one(_ context: HushRequestContext) async throws -> JSONBody<TriggerJSON> {
        let caller = try context.caller()
        let id = try triggerID(context)
        guard let trigger = try await store.triggers(in: caller.organization).first(where: { $0.id == id }) else { throw notFound(context) }
        return JSONBody(TriggerJSON(trigger: trigger))
    }

    private func triggerID(_ context: HushRequestContext) throws -> TriggerID {
        guard let id = TriggerID(context.parameters.get("id") ?? "") else { throw notFound(context) }
        return id
    }

    private func notFound(_ context: HushRequestContext) -> HushError {
        HushError(.notFound, field: "id", "no trigger \"\(context.parameters.get("id") ?? "")\" in this organization")
    }

    private func all(_ context: HushRequestContext) async throws -> JSONBody<TriggersJSON> {
        let caller = try context.caller()
        return JSONBody(TriggersJSON(triggers: try await store.triggers(in: caller.organization).map(TriggerJSON.init)))
    }

    private func delete(_ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.requireAdmin("deleting a trigger")
        guard try await store.deleteTrigger(try triggerID(context), in: caller.organization) else { throw notFound(context) }
        return Response(status: .noContent)
    }

    struct ActivityInput: APIInput {
        static let fields: Set<String> = ["type", "address", "disposition", "scope", "occurred_at"]
        let type: String
        let address: String
        let disposition: String
        let scope: String?
        let occurredAt: Date?

        enum CodingKeys: String, CodingKey {
            case type, address, disposition, scope
            case occurredAt = "occurred_at"
        }
    }

    struct ActivityOutput: Encodable, Sendable {
        let id: ActivityID
        let triggers: [TriggerID]
        let events: [EventJSON]
        /// The ledger position the answering node has applied (see `ReadYourWrites`).
        let sequence: Int64
    }

    /// Logs a call; every `call.logged` trigger whose disposition matches acts on it, and the
    /// events it writes name the trigger and the activity in their evidence.
    private func activity(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        let input = try await request.input(ActivityInput.self, context: context)
        guard input.type == Trigger.Event.callLogged.rawValue else {
            throw Problem.invalid("type", "type is call.logged")
        }
        guard !input.disposition.trimmed.isEmpty, input.disposition.count <= 100 else {
            throw Problem.invalid("disposition", "a disposition has 1 to 100 characters")
        }
        let organization = try await store.requireOrganization(caller)
        let address = try Address(parsing: input.address, region: organization.settings.defaultRegion)
        let scope = try Scope(parsing: input.scope ?? "")
        let activity = try await store.logActivity(Activity(
            type: input.type, address: address, disposition: input.disposition.trimmed, scope: scope,
            occurredAt: input.occurredAt ?? now(), actor: caller.actor), in: caller.organization)
        var events: [LedgerEvent] = []
        let fired = try await store.triggers(in: caller.organization).filter { $0.matches(disposition: activity.disposition) }
        for trigger in fired {
            events += try await service.run(
                trigger, for: address, channel: nil, scope: scope, actor: caller.actor,
                evidence: Evidence([
                    "trigger": .number(Double(trigger.id.rawValue)), "activity": .number(Double(activity.id.rawValue)),
                    "disposition": .string(activity.disposition), "type": .string(activity.type),
                ]), in: organization)
        }
        let sequence = await readYourWrites.store.appliedSequence()
        return try await readYourWrites.answer(
            JSONBody(
                ActivityOutput(id: activity.id, triggers: fired.map(\.id), events: events.map(EventJSON.init), sequence: sequence),
                status: .created),
            sequence: sequence, to: request, context: context)
    }
}

extension Trigger.Condition: APIInput {
    static let fields: Set<String> = ["disposition", "keyword"]
}

extension Trigger.Change: APIInput {
    static let fields: Set<String> = ["channels", "lists"]
}
