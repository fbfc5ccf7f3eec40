import Foundation
import Hummingbird
import HushCore
import HushStore

/// The `/v1` operations: opt-outs, opt-ins, checks and settings.
struct V1Routes: Sendable {
    static let maximumBatchAddresses = 100_000
    static let maximumOptOutAddresses = 10_000

    let store: any AccessStore & Directory & Ledger & SuppressionChecks
    let metrics: ServerMetrics
    let readYourWrites: ReadYourWrites

    func register(on group: V1Group) {
        group.on(.post, "opt-outs") { request, context in try await optOut(request, context) }
        group.on(.post, "opt-ins") { request, context in try await optIn(request, context) }
        group.on(.get, "check") { request, context in try await check(request, context) }
        group.on(.post, "check") { request, context in try await checkBatch(request, context) }
        group.on(.get, "settings") { _, context in try await settings(context) }
        group.on(.patch, "settings") { request, context in try await updateSettings(request, context) }
    }

    // MARK: Opt-outs and opt-ins

    struct OptOutInput: APIInput {
        static let fields: Set<String> = ["address", "addresses", "contact", "channel", "scope", "list", "source", "reason", "evidence", "hold"]
        let address: String?
        let addresses: [String]?
        let contact: String?
        let channel: String
        let scope: String?
        let list: ListReference?
        let source: String?
        let reason: String?
        let evidence: Evidence?
        let hold: Bool?
    }


    private func optOut(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        let input = try await request.input(OptOutInput.self, context: context)
        let organization = try await store.requireOrganization(caller)
        let channel = try ChannelSelection(parsing: input.channel)
        let scope = try Scope(parsing: input.scope ?? "")
        let list = try await input.list?.resolve(in: caller.organization, store: store, field: "list")
        let source = try input.source.map { (name) throws(HushError) in try Source(claimed: name) } ?? .api
        let evidence = try WriteEvidence.validated(input.evidence, reason: input.reason)
        let hold = input.hold ?? false
        if hold { try caller.requireAdmin("a held opt-out") }

        let subjects = try subjects(of: input, region: organization.settings.defaultRegion)
        let optOuts = subjects.map {
            OptOut(subject: $0, channel: channel, scope: scope, list: list, source: source, actor: caller.actor, evidence: evidence, hold: hold)
        }
        let outcomes = try await HushError.namingItems({ index, field in
            input.addresses != nil && field == "address" ? "addresses[\(index)]" : field.map { "addresses[\(index)].\($0)" } ?? "addresses[\(index)]"
        }) { try await store.record(optOuts, in: caller.organization) }
        let written = outcomes.reduce(0) { $0 + $1.events.count }
        metrics.optOutsRecorded.increment(by: Int64(written))
        let status: HTTPResponse.Status = written > 0 ? .created : .ok
        let sequence = await store.appliedSequence()
        if input.addresses != nil {
            return try await readYourWrites.answer(
                JSONBody(OptOutsOutput(results: outcomes.map(OptOutOutput.init), sequence: sequence), status: status), sequence: sequence,
                to: request, context: context)
        }
        return try await readYourWrites.answer(
            JSONBody(OptOutOutput(outcomes[0], sequence: sequence), status: status), sequence: sequence, to: request, context: context)
    }

    /// Exactly one of `address`, `addresses` and `contact`.
    private func subjects(of input: OptOutInput, region: Region?) throws -> [Subject] {
        let given = [input.address != nil, input.addresses != nil, input.contact != nil].filter { $0 }.count
        guard given == 1 else {
            throw Problem.invalid("address", "give exactly one of address, addresses and contact")
        }
        if let address = input.address {
            return [.address(try Address(parsing: address, region: region))]
        }
        if let contact = input.contact {
            return [.contact(try ContactID(parsing: contact))]
        }
        let addresses = input.addresses ?? []
        guard !addresses.isEmpty, addresses.count <= Self.maximumOptOutAddresses else {
            throw Problem.invalid("addresses", "addresses must hold 1 to \(Self.maximumOptOutAddresses) addresses")
        }
        return try addresses.enumerated().map { offset, text in
            do {
                return .address(try Address(parsing: text, region: region))
            } catch let error as HushError {
                throw HushError.invalid("addresses[\(offset)]", error.message)
            }
        }
    }


    struct OptInInput: APIInput {
        static let fields: Set<String> = ["address", "contact", "channel", "scope", "list", "source", "evidence"]
        let address: String?
        let contact: String?
        let channel: String
        let scope: String?
        let list: ListReference?
        let source: String?
        let evidence: ConsentInput?
    }


    private func optIn(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        try caller.requireAdmin("an opt-in")
        let input = try await request.input(OptInInput.self, context: context)
        let organization = try await store.requireOrganization(caller)
        let consent = try input.evidence.consent()
        let subject: Subject
        switch (input.address, input.contact) {
        case (let address?, nil): subject = .address(try Address(parsing: address, region: organization.settings.defaultRegion))
        case (nil, let contact?): subject = .contact(try ContactID(parsing: contact))
        default: throw Problem.invalid("address", "give exactly one of address and contact")
        }
        let optIn = OptIn(
            subject: subject, channel: try ChannelSelection(parsing: input.channel), scope: try Scope(parsing: input.scope ?? ""),
            list: try await input.list?.resolve(in: caller.organization, store: store, field: "list"),
            source: try input.source.map { (name) throws(HushError) in try Source(claimed: name) } ?? .api,
            actor: caller.actor, consent: consent, authority: .admin)
        let outcome = try await store.record(optIn, in: caller.organization)
        let sequence = await store.appliedSequence()
        return try await readYourWrites.answer(JSONBody(OptInOutput(outcome, sequence: sequence)), sequence: sequence, to: request, context: context)
    }
}

/// A list named in a request: its id, or its name.
struct ListReference: Decodable, Sendable {
    let text: String

    init(_ text: String) {
        self.text = text
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let id = try? container.decode(Int64.self) {
            text = String(id)
        } else {
            text = try container.decode(String.self)
        }
    }

    func resolve(in organization: OrganizationID, store: any Directory, field: String) async throws -> ListID {
        try resolve(among: try await store.lists(in: organization), field: field)
    }

    /// An id first, then a name.
    func resolve(among lists: [OptOutList], field: String) throws -> ListID {
        if let id = Int64(text), let list = lists.first(where: { $0.id.rawValue == id }) { return list.id }
        if let list = lists.first(where: { $0.definition.name == text }) { return list.id }
        if let list = lists.first(where: { $0.formerNames.contains(text) }) { return list.id }
        throw HushError(.notFound, field: field, "no list \"\(text)\" in this organization")
    }
}

extension [ListReference] {
    /// The lists named, each once, in the order first named; an unknown one is a 404 naming
    /// `lists[i]`.
    func resolve(in organization: OrganizationID, store: any Directory) async throws -> [ListID] {
        guard !isEmpty else { return [] }
        let known = try await store.lists(in: organization)
        var resolved: [ListID] = []
        for (offset, reference) in enumerated() {
            let list = try reference.resolve(among: known, field: "lists[\(offset)]")
            if !resolved.contains(list) { resolved.append(list) }
        }
        return resolved
    }
}

extension AccessStore {
    /// The caller's organization; a key whose organization is gone is refused.
    func requireOrganization(_ caller: Principal) async throws -> Organization {
        guard let organization = try await organization(caller.organization) else {
            throw Problem.unauthorized("the API key's organization no longer exists")
        }
        return organization
    }
}
