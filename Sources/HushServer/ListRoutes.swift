import Foundation
import Hummingbird
import HushCore
import HushStore

/// `/v1/lists`: named opt-out lists and their entries.
struct ListRoutes: Sendable {
    static let maximumEntries = 10_000
    static let defaultPageSize = 100
    static let maximumPageSize = 1_000

    let store: any AccessStore & Directory & Ledger & SuppressionChecks
    let metrics: ServerMetrics
    let webhooks: WebhookSettings
    let readYourWrites: ReadYourWrites

    func register(on group: V1Group) {
        group.on(.post, "lists") { request, context in try await create(request, context) }
        group.on(.get, "lists") { _, context in try await all(context) }
        group.on(.get, "lists/:id") { _, context in try await one(context) }
        group.on(.patch, "lists/:id") { request, context in try await update(request, context) }
        group.on(.delete, "lists/:id") { _, context in try await delete(context) }
        group.on(.post, "lists/:id/entries") { request, context in try await addEntries(request, context) }
        group.on(.delete, "lists/:id/entries") { request, context in try await removeEntries(request, context) }
        group.on(.get, "lists/:id/entries") { request, context in try await entries(request, context) }
    }

    struct ListJSON: Encodable, Sendable {
        let id: Int64
        let name: String
        let description: String
        let keywords: [String]
        @NullEncoded var message: String?
        @NullEncoded var webhookURL: String?
        let channels: [String]
        let isDefault: Bool
        let isPublic: Bool
        let formerNames: [String]
        /// The webhook endpoint delivering to `webhook_url`.
        @NullEncoded var webhook: WebhookID?
        /// Its signing secret, only in the answer that created it.
        let webhookSecret: String?

        enum CodingKeys: String, CodingKey {
            case id, name, description, keywords, message, channels, webhook
            case webhookURL = "webhook_url"
            case isDefault = "default"
            case isPublic = "public"
            case formerNames = "former_names"
            case webhookSecret = "webhook_secret"
        }

        init(_ list: OptOutList) {
            id = list.id.rawValue
            name = list.definition.name
            description = list.definition.description
            keywords = list.definition.keywords
            message = list.definition.message
            webhookURL = list.definition.webhookURL
            channels = Channel.allCases.filter(list.definition.channels.contains).map(\.rawValue)
            isDefault = list.isDefault
            isPublic = list.definition.isPublic
            formerNames = list.formerNames
            webhook = list.webhook
            webhookSecret = list.webhookSecret?.description
        }
    }

    struct ListsJSON: Encodable, Sendable {
        let lists: [ListJSON]
    }

    /// A list's fields as sent: all optional so one type serves POST and PATCH. A field sent as
    /// `null` clears it (`message`, `webhook_url`).
    struct ListInput: APIInput {
        static let fields: Set<String> = ["name", "description", "keywords", "message", "webhook_url", "channels", "public"]
        let name: String?
        let description: String?
        let keywords: [String]?
        let message: String??
        let webhookURL: String??
        let channels: [String]?
        let isPublic: Bool?

        enum CodingKeys: String, CodingKey {
            case name, description, keywords, message, channels
            case webhookURL = "webhook_url"
            case isPublic = "public"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decodeIfPresent(String.self, forKey: .name)
            description = try container.decodeIfPresent(String.self, forKey: .description)
            keywords = try container.decodeIfPresent([String].self, forKey: .keywords)
            message = try container.decodeClearable(String.self, forKey: .message)
            webhookURL = try container.decodeClearable(String.self, forKey: .webhookURL)
            channels = try container.decodeIfPresent([String].self, forKey: .channels)
            isPublic = try container.decodeIfPresent(Bool.self, forKey: .isPublic)
        }

        /// The definition these fields make on top of `base`.
        func definition(over base: ListDefinition?) throws -> ListDefinition {
            guard let name = name ?? base?.name else { throw Problem.invalid("name", "a list needs a name") }
            let channels = try channels.map { names in
                guard !names.isEmpty else { throw Problem.invalid("channels", "a list covers at least one channel") }
                return try Set(names.enumerated().map { offset, name in try Channel(parsing: name, field: "channels[\(offset)]") })
            }
            return try ListDefinition(
                name: name, description: description ?? base?.description ?? "", keywords: keywords ?? base?.keywords ?? [],
                message: message ?? base?.message, webhookURL: webhookURL ?? base?.webhookURL,
                channels: channels ?? base?.channels ?? Set(Channel.allCases), isPublic: isPublic ?? base?.isPublic ?? true)
        }
    }

    private func create(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        let input = try await request.input(ListInput.self, context: context)
        let definition = try input.definition(over: nil)
        if !definition.isPublic { try caller.requireAdmin("an internal list") }
        // A keyword catches replies before the organization's own words do: a member's list
        // could take "STOP PLEASE" and leave the person opted out of that list alone.
        if !definition.keywords.isEmpty { try caller.requireAdmin("a list with keywords") }
        try await checkWebhook(definition, over: nil, caller)
        let list = try await store.createList(in: caller.organization, definition)
        return try JSONBody(ListJSON(list), status: .created).response(from: request, context: context)
    }

    private func all(_ context: HushRequestContext) async throws -> JSONBody<ListsJSON> {
        let caller = try context.caller()
        return JSONBody(ListsJSON(lists: try await store.lists(in: caller.organization).map(ListJSON.init)))
    }

    private func one(_ context: HushRequestContext) async throws -> JSONBody<ListJSON> {
        let caller = try context.caller()
        return JSONBody(ListJSON(try await list(context, of: caller)))
    }

    private func update(_ request: Request, _ context: HushRequestContext) async throws -> JSONBody<ListJSON> {
        let caller = try context.caller()
        let existing = try await list(context, of: caller)
        let input = try await request.input(ListInput.self, context: context)
        let definition = try input.definition(over: existing.definition)
        // What a list covers and catches decides which opt-outs apply: only admins change it.
        let old = existing.definition
        if definition.name != old.name || definition.channels != old.channels || definition.keywords != old.keywords
            || definition.isPublic != old.isPublic {
            try caller.requireAdmin("changing a list's name, channels, keywords or public flag")
        }
        try await checkWebhook(definition, over: existing.definition, caller)
        return JSONBody(ListJSON(try await store.updateList(existing.id, in: caller.organization, definition)))
    }

    private func delete(_ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        let existing = try await list(context, of: caller)
        try caller.requireAdmin("deleting a list")
        try await store.deleteList(existing.id, in: caller.organization)
        return Response(status: .noContent)
    }

    /// A list's webhook decides where its opt-outs are sent: setting, changing or clearing it
    /// needs an admin key (clearing it stops the deliveries still waiting), and its target must be
    /// one webhooks may reach.
    private func checkWebhook(_ definition: ListDefinition, over base: ListDefinition?, _ caller: Principal) async throws {
        guard definition.webhookURL != base?.webhookURL else { return }
        try caller.requireAdmin(definition.webhookURL == nil ? "clearing a list's webhook_url" : "setting a list's webhook_url")
        guard let url = definition.webhookURL else { return }
        try await WebhookTarget.check(url, allowPrivate: webhooks.allowPrivateTargets, field: "webhook_url")
    }

    /// The list named by the path, if it belongs to the caller's organization: a foreign or
    /// unknown id is 404 alike.
    private func list(_ context: HushRequestContext, of caller: Principal) async throws -> OptOutList {
        let text = context.parameters.get("id") ?? ""
        guard let id = Int64(text), let list = try await store.list(ListID(rawValue: id), in: caller.organization) else {
            throw HushError(.notFound, field: "id", "no list \"\(text)\" in this organization")
        }
        return list
    }

    // MARK: Entries

    struct EntryInput: APIInput {
        static let fields: Set<String> = ["address", "channel", "scope"]
        let address: String
        let channel: String
        let scope: String?

        init(from decoder: any Decoder) throws {
            try Self.rejectUnknownFields(in: decoder)
            let container = try decoder.container(keyedBy: AnyKey.self)
            address = try container.decode(String.self, forKey: AnyKey("address"))
            channel = try container.decode(String.self, forKey: AnyKey("channel"))
            scope = try container.decodeIfPresent(String.self, forKey: AnyKey("scope"))
        }

        func parsed(region: Region?) throws -> (address: Address, channel: ChannelSelection, scope: Scope) {
            (try Address(parsing: address, region: region), try ChannelSelection(parsing: channel), try Scope(parsing: scope ?? ""))
        }
    }

    struct AddEntriesInput: APIInput {
        static let fields: Set<String> = ["entries", "source", "reason", "evidence"]
        let entries: [EntryInput]
        let source: String?
        let reason: String?
        let evidence: Evidence?
    }

    struct RemoveEntriesInput: APIInput {
        static let fields: Set<String> = ["entries", "evidence"]
        let entries: [EntryInput]
        let evidence: ConsentInput?
    }

    struct AddedOutput: Encodable, Sendable {
        let results: [OptOutOutput]
        let sequence: Int64
    }

    struct RemovedOutput: Encodable, Sendable {
        let results: [OptInOutput]
        let sequence: Int64
    }

    struct EntriesOutput: Encodable, Sendable {
        let entries: [SuppressionJSON]
        @NullEncoded var nextCursor: String?

        enum CodingKeys: String, CodingKey {
            case entries
            case nextCursor = "next_cursor"
        }
    }

    private func addEntries(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        let list = try await list(context, of: caller)
        let input = try await request.input(AddEntriesInput.self, context: context)
        try Self.checkCount(input.entries.count)
        let organization = try await store.requireOrganization(caller)
        let source = try input.source.map { (name) throws(HushError) in try Source(claimed: name) } ?? .api
        let evidence = try WriteEvidence.validated(input.evidence, reason: input.reason)
        let optOuts = try input.entries.enumerated().map { offset, entry in
            let (address, channel, scope) = try Self.inEntry(offset) { try entry.parsed(region: organization.settings.defaultRegion) }
            return OptOut(
                subject: .address(address), channel: channel, scope: scope, list: list.id, source: source,
                actor: caller.actor, evidence: evidence)
        }
        let outcomes = try await HushError.namingItems({ index, field in
            "entries[\(index)]" + (field.map { ".\($0)" } ?? "")
        }) { try await store.record(optOuts, in: caller.organization) }
        let written = outcomes.reduce(0) { $0 + $1.events.count }
        metrics.optOutsRecorded.increment(by: Int64(written))
        let sequence = await store.appliedSequence()
        return try await readYourWrites.answer(
            JSONBody(AddedOutput(results: outcomes.map(OptOutOutput.init), sequence: sequence), status: written > 0 ? .created : .ok),
            sequence: sequence, to: request, context: context)
    }

    /// Removing entries lifts opt-outs: admin only, with the consent that allows it.
    private func removeEntries(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        let list = try await list(context, of: caller)
        try caller.requireAdmin("removing list entries (an opt-in)")
        let input = try await request.input(RemoveEntriesInput.self, context: context)
        try Self.checkCount(input.entries.count)
        let consent = try input.evidence.consent()
        let organization = try await store.requireOrganization(caller)
        let optIns = try input.entries.enumerated().map { offset, entry in
            let (address, channel, scope) = try Self.inEntry(offset) { try entry.parsed(region: organization.settings.defaultRegion) }
            return OptIn(
                subject: .address(address), channel: channel, scope: scope, list: list.id, source: .api, actor: caller.actor,
                consent: consent, authority: .admin)
        }
        let outcomes = try await store.record(optIns, in: caller.organization)
        let sequence = await store.appliedSequence()
        return try await readYourWrites.answer(
            JSONBody(RemovedOutput(results: outcomes.map(OptInOutput.init), sequence: sequence)), sequence: sequence, to: request, context: context)
    }

    private func entries(_ request: Request, _ context: HushRequestContext) async throws -> JSONBody<EntriesOutput> {
        let caller = try context.caller()
        let list = try await list(context, of: caller)
        let query = try Query(request, accepting: ["limit", "cursor"])
        let limit = try query.integer("limit", default: Self.defaultPageSize, range: 1...Self.maximumPageSize)
        let after = try query.cursor()
        let page = try await store.entries(of: list.id, in: caller.organization, after: after, limit: limit)
        let next = page.count == limit ? page.last.map { String($0.eventSequence) } : nil
        return JSONBody(EntriesOutput(entries: page.map(SuppressionJSON.init), nextCursor: next))
    }

    private static func checkCount(_ count: Int) throws {
        guard (1...maximumEntries).contains(count) else {
            throw Problem.invalid("entries", "entries must hold 1 to \(maximumEntries) entries")
        }
    }

    /// Runs `body`, placing the field of its error inside `entries[offset]`.
    private static func inEntry<T>(_ offset: Int, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as HushError {
            throw HushError(error.code, field: "entries[\(offset)]" + (error.field.map { ".\($0)" } ?? ""), error.message)
        }
    }
}

extension KeyedDecodingContainer {
    /// Absent is `.none` (keep), `null` is `.some(nil)` (clear), a value is `.some(value)`.
    func decodeClearable<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T?? {
        guard contains(key) else { return .none }
        return try decodeNil(forKey: key) ? .some(nil) : .some(try decode(T.self, forKey: key))
    }
}

extension Query {
    /// The `cursor` parameter: the sequence the previous page ended at.
    func cursor(_ name: String = "cursor") throws -> Int64 {
        guard let text = optional(name) else { return 0 }
        guard let value = Int64(text), value >= 0 else {
            throw Problem.invalid(name, "\(name) must be a cursor returned by the previous page")
        }
        return value
    }

    /// A cursor that is the id of the last item of the previous page.
    func cursor<Tag>(_ name: String = "cursor") throws -> Identifier<Tag> {
        Identifier(rawValue: try cursor(name))
    }
}
