import Foundation
import Hummingbird
import HushCore
import HushStore

/// `/v1/rulesets` and `/v1/sequences/evaluate`: what a sequence does with a prospect who opted out.
struct SequenceRoutes: Sendable {
    static let maximumSteps = 100

    let store: any AccessStore & Directory & Ledger & RulesetStore & SuppressionChecks
    let readYourWrites: ReadYourWrites

    func register(on group: V1Group) {
        group.on(.post, "rulesets") { request, context in try await create(request, context) }
        group.on(.get, "rulesets") { _, context in try await all(context) }
        group.on(.get, "rulesets/:id") { _, context in JSONBody(RulesetJSON(try await ruleset(context))) }
        group.on(.patch, "rulesets/:id") { request, context in try await update(request, context) }
        group.on(.delete, "rulesets/:id") { _, context in try await delete(context) }
        group.on(.post, "sequences/evaluate") { request, context in try await evaluate(request, context) }
    }

    // MARK: Rulesets

    struct RulesetInput: APIInput {
        static let fields: Set<String> = ["name", "on_opt_out", "opted_out_stage"]
        let name: String?
        let onOptOut: String?
        let optedOutStage: String?

        enum CodingKeys: String, CodingKey {
            case name
            case onOptOut = "on_opt_out"
            case optedOutStage = "opted_out_stage"
        }

        func ruleset(over base: Ruleset?) throws -> Ruleset {
            guard let name = name ?? base?.name else { throw Problem.invalid("name", "a ruleset needs a name") }
            let onOptOut = try onOptOut.map { text in
                guard let value = Ruleset.OnOptOut(rawValue: text) else {
                    throw Problem.invalid("on_opt_out", "on_opt_out is skip_steps or finish")
                }
                return value
            } ?? base?.onOptOut
            guard let onOptOut else { throw Problem.invalid("on_opt_out", "a ruleset needs on_opt_out: skip_steps or finish") }
            return try Ruleset(
                id: base?.id ?? RulesetID(0), name: name, onOptOut: onOptOut, optedOutStage: optedOutStage ?? base?.optedOutStage ?? Ruleset.defaultStage)
        }
    }

    struct RulesetJSON: Encodable, Sendable {
        let id: RulesetID
        let name: String
        let onOptOut: String
        let optedOutStage: String

        enum CodingKeys: String, CodingKey {
            case id, name
            case onOptOut = "on_opt_out"
            case optedOutStage = "opted_out_stage"
        }

        init(_ ruleset: Ruleset) {
            id = ruleset.id
            name = ruleset.name
            onOptOut = ruleset.onOptOut.rawValue
            optedOutStage = ruleset.optedOutStage
        }
    }

    struct RulesetsJSON: Encodable, Sendable {
        let rulesets: [RulesetJSON]
    }

    private func create(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.requireAdmin("creating a ruleset")
        let input = try await request.input(RulesetInput.self, context: context)
        let stored = try await store.createRuleset(try input.ruleset(over: nil), in: caller.organization)
        return try JSONBody(RulesetJSON(stored), status: .created).response(from: request, context: context)
    }

    private func all(_ context: HushRequestContext) async throws -> JSONBody<RulesetsJSON> {
        let caller = try context.caller()
        return JSONBody(RulesetsJSON(rulesets: try await store.rulesets(in: caller.organization).map(RulesetJSON.init)))
    }

    private func update(_ request: Request, _ context: HushRequestContext) async throws -> JSONBody<RulesetJSON> {
        let caller = try context.caller()
        try caller.requireAdmin("changing a ruleset")
        let existing = try await ruleset(context)
        let input = try await request.input(RulesetInput.self, context: context)
        return JSONBody(RulesetJSON(try await store.updateRuleset(try input.ruleset(over: existing), in: caller.organization)))
    }

    private func delete(_ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.requireAdmin("deleting a ruleset")
        let existing = try await ruleset(context)
        _ = try await store.deleteRuleset(existing.id, in: caller.organization)
        return Response(status: .noContent)
    }

    private func ruleset(_ context: HushRequestContext) async throws -> Ruleset {
        try await resolve(context.parameters.get("id") ?? "", try context.caller(), field: "id")
    }

    /// A ruleset by id or by name.
    private func resolve(_ text: String, _ caller: Principal, field: String) async throws -> Ruleset {
        if let id = RulesetID(text), let ruleset = try await store.ruleset(id, in: caller.organization) { return ruleset }
        if let ruleset = try await store.rulesets(in: caller.organization).first(where: { $0.name == text }) { return ruleset }
        throw HushError(.notFound, field: field, "no ruleset \"\(text)\" in this organization")
    }

    // MARK: Evaluation

    struct StepInput: Decodable, Sendable {
        let id: String
        let channel: String
        let dueAt: Date?

        enum CodingKeys: String, CodingKey {
            case id, channel
            case dueAt = "due_at"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: AnyKey.self)
            let unknown = container.allKeys.map(\.stringValue).filter { !["id", "channel", "due_at"].contains($0) }
            guard unknown.isEmpty else {
                throw DecodingError.dataCorrupted(.init(
                    codingPath: decoder.codingPath, debugDescription: "unknown fields", underlyingError: UnknownFields(names: unknown)))
            }
            let keyed = try decoder.container(keyedBy: CodingKeys.self)
            id = try keyed.decode(String.self, forKey: .id)
            channel = try keyed.decode(String.self, forKey: .channel)
            dueAt = try keyed.decodeIfPresent(Date.self, forKey: .dueAt)
        }
    }

    struct AddressesInput: APIInput {
        static let fields: Set<String> = ["email", "phone"]
        let email: String?
        let phone: String?
    }

    struct EvaluateInput: APIInput {
        static let fields: Set<String> = ["ruleset", "enrolled_at", "scope", "lists", "contact", "addresses", "steps"]
        let ruleset: ListReference
        let enrolledAt: Date
        let scope: String?
        let lists: [ListReference]?
        let contact: String?
        let addresses: Strict<AddressesInput>?
        let steps: [StepInput]

        enum CodingKeys: String, CodingKey {
            case ruleset, scope, lists, contact, addresses, steps
            case enrolledAt = "enrolled_at"
        }
    }

    struct EvaluationJSON: JSONWritable {
        let evaluation: SequenceEvaluation

        func write(to json: inout JSONWriter) {
            json.raw("{\"steps\":")
            json.array(evaluation.steps) { json, step in
                json.raw("{\"id\":")
                json.string(step.id)
                json.raw(",\"action\":")
                json.string(step.action.rawValue)
                json.raw(",\"reason\":")
                json.optionalString(step.reason?.rawValue)
                json.raw(",\"blocked_by\":")
                json.array(step.blockedBy) { json, block in block.write(to: &json) }
                json.raw("}")
            }
            json.raw(",\"finished\":")
            json.bool(evaluation.finished)
            json.raw(",\"stage_change\":")
            json.optionalString(evaluation.stageChange)
            json.raw("}")
        }
    }

    /// Decides each step as of now: the prospect's address for the step's channel (from
    /// `addresses`), or every linked address of the contact that the channel reaches, is checked
    /// at the scope and lists given. Which of a contact's addresses the platform will use is not
    /// said, so an opt-out of any of them decides the step (the first blocked one is answered).
    private func evaluate(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        try await readYourWrites.await(request)
        let input = try await request.input(EvaluateInput.self, context: context)
        let ruleset = try await resolve(input.ruleset.text, caller, field: "ruleset")
        guard !input.steps.isEmpty, input.steps.count <= Self.maximumSteps else {
            throw Problem.invalid("steps", "a sequence has 1 to \(Self.maximumSteps) steps")
        }
        guard (input.contact == nil) != (input.addresses == nil) else {
            throw Problem.invalid("contact", "give exactly one of contact and addresses")
        }
        let organization = try await store.requireOrganization(caller)
        let region = organization.settings.defaultRegion
        let lists = Set(try await (input.lists ?? []).resolve(in: caller.organization, store: store))
        let scope = try Scope(parsing: input.scope ?? "")

        var addresses: [Address] = []
        var contact: ContactID?
        if let given = input.addresses?.value {
            let email = try given.email.map { text in try naming("addresses.email") { () throws(HushError) in try Address(parsing: text, region: region) } }
            let phone = try given.phone.map { text in try naming("addresses.phone") { () throws(HushError) in try Address(parsing: text, region: region) } }
            guard email?.kind ?? .email == .email else { throw Problem.invalid("addresses.email", "not an email address") }
            guard phone?.kind ?? .phone == .phone else { throw Problem.invalid("addresses.phone", "not a phone number") }
            addresses = [email, phone].compactMap { $0 }
        } else if let id = input.contact {
            let parsed = try ContactID(parsing: id)
            contact = parsed
            addresses = try await store.contact(parsed, in: caller.organization)?.addresses ?? []
            // Its erased addresses too, under their hashes: erased, an opted-out address still
            // decides the step (its decision names the hash, never the address).
            addresses += try await store.erasedKeys(of: parsed, in: caller.organization).map { Address(normalized: $0.key, kind: $0.kind, input: $0.key) }
        }
        func decide(_ channel: Channel) -> Decision? {
            let query = CheckQuery(channel: channel, scope: scope, lists: lists)
            let decisions = addresses.filter { (channel == .email) == ($0.kind == .email) }.map { address in
                contact.map { store.decision(for: address, contact: $0, in: caller.organization, query: query) }
                    ?? store.decision(for: address, in: caller.organization, query: query)
            }
            return decisions.first { !$0.allowed } ?? decisions.first
        }
        var steps: [SequenceStep] = []
        for (offset, step) in input.steps.enumerated() {
            let channel = try Channel(parsing: step.channel, field: "steps[\(offset)].channel")
            steps.append(SequenceStep(id: step.id, channel: channel, dueAt: step.dueAt, decision: decide(channel)))
        }
        let used = Set(steps.map(\.channel))
        let others = Channel.allCases.filter { !used.contains($0) }.compactMap(decide)
        let evaluation = SequenceEvaluation(ruleset, steps: steps, others: others, enrolledAt: input.enrolledAt)
        return try WrittenJSON(value: EvaluationJSON(evaluation: evaluation)).response(from: request, context: context)
    }
}
