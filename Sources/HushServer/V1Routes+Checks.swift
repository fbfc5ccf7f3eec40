import Foundation
import Hummingbird
import HushCore
import HushStore

extension V1Routes {
    struct CheckOutput: JSONWritable {
        let decision: Decision

        func write(to json: inout JSONWriter) {
            json.raw("{\"address\":")
            json.string(decision.address.normalized)
            json.raw(",\"allowed\":")
            json.bool(decision.allowed)
            json.raw(",\"blocked_by\":")
            json.array(decision.blockedBy) { json, block in block.write(to: &json) }
            json.raw(",\"channel\":")
            json.string(decision.channel.rawValue)
            json.raw(",\"scope\":")
            json.string(decision.scope.path)
            json.raw("}")
        }
    }

    func check(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        let query = try Query(request, accepting: ["address", "channel", "scope", "lists", "at", "min_sequence"])
        try await readYourWrites.await(request, query: query)
        let organization = try await store.requireOrganization(caller)
        let asked = try CheckRequest(query, in: organization)
        let address = asked.address
        let check = asked.query(lists: try await lists(query.optional("lists"), in: caller.organization))
        let decision: Decision
        if let at = query.optional("at") {
            guard let date = Timestamp.parse(at) else {
                throw Problem.invalid("at", "at must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z")
            }
            decision = try await store.decision(for: address, in: caller.organization, query: check, asOf: date)
        } else {
            decision = store.decision(for: address, in: caller.organization, query: check)
        }
        metrics.checks.increment()
        return try WrittenJSON(value: CheckOutput(decision: decision)).response(from: request, context: context)
    }

    /// What a single check asks, from its query string: the address, read in the
    /// organization's default region, the channel (one that can reach the address) and the
    /// scope. The lists it names are resolved apart. `CheckDoor` reads its checks with it too.
    struct CheckRequest {
        let address: Address
        let channel: Channel
        let scope: Scope

        init(_ query: Query, in organization: Organization) throws {
            address = try Address(parsing: try query.required("address"), region: organization.settings.defaultRegion)
            (channel, scope) = try Self.channelAndScope(query)
            try channel.requireSendable(to: address)
        }

        /// The channel and scope a check names in its query string (the compact batch's too).
        static func channelAndScope(_ query: Query) throws -> (Channel, Scope) {
            (try Channel(parsing: try query.required("channel")), try Scope(parsing: query.optional("scope") ?? ""))
        }

        func query(lists: Set<ListID>) -> CheckQuery {
            CheckQuery(channel: channel, scope: scope, lists: lists)
        }
    }

    struct CheckBatchInput: APIInput {
        static let fields: Set<String> = ["channel", "scope", "lists", "addresses"]
        let channel: String
        let scope: String?
        let lists: [ListReference]?
        let addresses: [String]
    }

    /// Allowed, blocked and invalid addresses, each group in input order.
    struct CheckBatchOutput: JSONWritable {
        struct Invalid: Sendable {
            let input: String
            let error: String
        }

        let decisions: [Decision]
        let invalid: [Invalid]

        func write(to json: inout JSONWriter) {
            json.raw("{\"allowed\":")
            json.array(decisions.lazy.filter(\.allowed)) { json, decision in json.string(decision.address.normalized) }
            json.raw(",\"blocked\":")
            json.array(decisions.lazy.filter { !$0.allowed }) { json, decision in
                json.raw("{\"address\":")
                json.string(decision.address.normalized)
                json.raw(",\"blocked_by\":")
                json.array(decision.blockedBy) { json, block in block.write(to: &json) }
                json.raw(",\"reason\":")
                json.string(decision.address.kind.optOutReason)
                json.raw("}")
            }
            json.raw(",\"invalid\":")
            json.array(invalid) { json, invalid in
                json.raw("{\"error\":")
                json.string(invalid.error)
                json.raw(",\"input\":")
                json.string(invalid.input)
                json.raw("}")
            }
            json.raw("}")
        }
    }

    func checkBatch(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        if request.headers[.contentType].map(CheckLines.isLines) == true { return try await checkLines(request, context) }
        let caller = try context.caller()
        try await readYourWrites.await(request)
        let input = try await request.input(CheckBatchInput.self, context: context)
        guard input.addresses.count <= Self.maximumBatchAddresses else {
            throw Problem.invalid("addresses", "at most \(Self.maximumBatchAddresses) addresses per request")
        }
        let organization = try await store.requireOrganization(caller)
        let lists = Set(try await (input.lists ?? []).resolve(in: caller.organization, store: store))
        let query = CheckQuery(channel: try Channel(parsing: input.channel), scope: try Scope(parsing: input.scope ?? ""), lists: lists)
        let checked = checkMany(input.addresses, in: organization, query: query)
        let output = CheckBatchOutput(
            decisions: checked.decisions, invalid: checked.invalid.map { .init(input: input.addresses[$0.position], error: $0.error) })
        return try WrittenJSON(value: output, capacity: 64 * input.addresses.count).response(from: request, context: context)
    }

    /// The compact form: addresses one a line in a `text/plain` body, the check's parameters in
    /// the query string as `GET /v1/check` takes them, and a line back for each: `allowed`,
    /// `blocked`, or `invalid`, a tab and why.
    func checkLines(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        let query = try Query(request, accepting: ["channel", "scope", "lists", "min_sequence"])
        try await readYourWrites.await(request, query: query)
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        let inputs = try CheckLines.read(body, limit: Self.maximumBatchAddresses)
        let organization = try await store.requireOrganization(caller)
        let (channel, scope) = try CheckRequest.channelAndScope(query)
        let check = CheckQuery(channel: channel, scope: scope, lists: try await lists(query.optional("lists"), in: caller.organization))
        let checked = checkMany(inputs, in: organization, query: check)
        var headers = HTTPFields()
        headers[.contentType] = CheckLines.contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: CheckLines.answer(checked, count: inputs.count)))
    }

    /// Both forms of a batch check: each input read as the organization reads addresses, the
    /// readable ones checked at once (their decisions in input order), the rest with why.
    func checkMany(_ inputs: [String], in organization: Organization, query: CheckQuery) -> CheckedMany {
        var invalid: [CheckedMany.Invalid] = []
        var parsed: [Address] = []
        parsed.reserveCapacity(inputs.count)
        for (position, text) in inputs.enumerated() {
            do {
                let address = try Address(parsing: text, region: organization.settings.defaultRegion)
                try query.channel.requireSendable(to: address)
                parsed.append(address)
            } catch {
                invalid.append(.init(position: position, error: error.message))
            }
        }
        metrics.checks.increment(by: Int64(inputs.count))
        return CheckedMany(decisions: store.decisions(for: parsed, in: organization.id, query: query), invalid: invalid)
    }

    func lists(_ text: String?, in organization: OrganizationID) async throws -> Set<ListID> {
        guard let text else { return [] }
        var lists: Set<ListID> = []
        for name in text.split(separator: ",") {
            let reference = ListReference(String(name).trimmingCharacters(in: .whitespaces))
            lists.insert(try await reference.resolve(in: organization, store: store, field: "lists"))
        }
        return lists
    }
}
