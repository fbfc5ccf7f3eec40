import Foundation
import Hummingbird
import HushCore
import HushStore

/// What Hush holds about people: an address's suppressions and history, contacts and their
/// addresses, and the ledger itself.
struct LedgerRoutes: Sendable {
    static let defaultPageSize = 100
    static let maximumPageSize = 1_000
    /// The newest events of an address shown by `GET /v1/addresses/{address}`.
    static let addressHistoryLimit = 1_000
    /// Contacts answered with an address, at most.
    static let addressContactLimit = 100
    static let maximumContactAddresses = 100

    let store: any AccessStore & Directory & Ledger
    let readYourWrites: ReadYourWrites

    func register(on group: V1Group) {
        group.on(.get, "addresses/:address") { _, context in try await address(context) }
        group.on(.put, "contacts/:id") { request, context in try await linkContact(request, context) }
        group.on(.get, "contacts/:id") { _, context in try await contact(context) }
        group.on(.get, "events") { request, context in try await events(request, context) }
    }

    // MARK: Addresses

    struct AddressOutput: Encodable, Sendable {
        let address: String
        let kind: String
        let suppressions: [SuppressionJSON]
        let events: [EventJSON]
        /// Whether older events than the newest `addressHistoryLimit` were left out (`GET
        /// /v1/events?address=` pages through them all).
        let eventsTruncated: Bool
        /// The contacts the address is linked to (their opt-outs cover it), by id.
        let contacts: [String]

        enum CodingKeys: String, CodingKey {
            case address, kind, suppressions, events, contacts
            case eventsTruncated = "events_truncated"
        }
    }

    private func address(_ context: HushRequestContext) async throws -> JSONBody<AddressOutput> {
        let caller = try context.caller()
        let organization = try await store.requireOrganization(caller)
        let text = context.parameters.get("address")?.removingPercentEncoding ?? ""
        let address = try Address(parsing: text, region: organization.settings.defaultRegion)
        let suppressions = try await store.suppressions(of: address, in: caller.organization)
        var events: [LedgerEvent] = []
        var after: Int64 = 0
        var truncated = false
        // The whole history, a page at a time, keeping the newest.
        while true {
            let page = try await store.events(in: caller.organization, after: after, limit: Self.maximumPageSize, address: address)
            events += page
            if events.count > Self.addressHistoryLimit {
                events.removeFirst(events.count - Self.addressHistoryLimit)
                truncated = true
            }
            guard page.count == Self.maximumPageSize, let last = page.last else { break }
            after = last.sequence
        }
        // The first 100 by link time, then id (a CRM page links its records at one moment; a
        // shared mailbox may belong to thousands of CRM records).
        let contacts = try await store.linkTimes(of: address, in: caller.organization)
            .map { (id: $0.key.externalID, at: $0.value) }
            .sorted { ($0.at, $0.id) < ($1.at, $1.id) }
            .prefix(Self.addressContactLimit).map(\.id)
        return JSONBody(AddressOutput(
            address: address.normalized, kind: address.kind.rawValue, suppressions: suppressions.map(SuppressionJSON.init),
            events: events.map(EventJSON.init), eventsTruncated: truncated, contacts: Array(contacts)))
    }

    // MARK: Contacts

    struct ContactInput: APIInput {
        static let fields: Set<String> = ["emails", "phones"]
        let emails: [String]?
        let phones: [String]?
    }

    struct ContactOutput: Encodable, Sendable {
        let id: String
        let emails: [String]
        let phones: [String]
        /// The ledger position the answering node has applied (see `ReadYourWrites`); only on
        /// the answer to a link, a write.
        var sequence: Int64?

        init(_ contact: Contact, sequence: Int64? = nil) {
            id = contact.id.externalID
            emails = contact.addresses.filter { $0.kind == .email }.map(\.normalized)
            phones = contact.addresses.filter { $0.kind == .phone }.map(\.normalized)
            self.sequence = sequence
        }
    }

    /// Links addresses to the contact. Links are only ever added: removing one would lift the
    /// contact's opt-outs from that address without the person's consent.
    private func linkContact(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        let id = try ContactID(parsing: context.parameters.get("id")?.removingPercentEncoding ?? "")
        let input = try await request.input(ContactInput.self, context: context)
        let region = try await store.requireOrganization(caller).settings.defaultRegion
        var addresses: [Address] = []
        for (field, texts, kind) in [("emails", input.emails ?? [], Address.Kind.email), ("phones", input.phones ?? [], .phone)] {
            guard texts.count <= Self.maximumContactAddresses else {
                throw Problem.invalid(field, "at most \(Self.maximumContactAddresses) \(field) per contact")
            }
            for (offset, text) in texts.enumerated() {
                let address: Address
                do {
                    address = try Address(parsing: text, region: region)
                } catch {
                    throw HushError.invalid("\(field)[\(offset)]", error.message)
                }
                guard address.kind == kind else {
                    throw Problem.invalid("\(field)[\(offset)]", "\"\(text)\" is not \(kind == .email ? "an email address" : "a phone number")")
                }
                addresses.append(address)
            }
        }
        let contact = try await store.link(addresses, to: id, in: caller.organization)
        let sequence = await readYourWrites.store.appliedSequence()
        return try await readYourWrites.answer(
            JSONBody(ContactOutput(contact, sequence: sequence)), sequence: sequence, to: request, context: context)
    }

    private func contact(_ context: HushRequestContext) async throws -> JSONBody<ContactOutput> {
        let caller = try context.caller()
        let text = context.parameters.get("id")?.removingPercentEncoding ?? ""
        let id = try ContactID(parsing: text)
        guard let contact = try await store.contact(id, in: caller.organization) else {
            throw HushError(.notFound, field: "id", "no contact \"\(text)\" in this organization")
        }
        return JSONBody(ContactOutput(contact))
    }

    // MARK: Events

    struct EventsOutput: Encodable, Sendable {
        let events: [EventJSON]
        @NullEncoded var nextCursor: String?

        enum CodingKeys: String, CodingKey {
            case events
            case nextCursor = "next_cursor"
        }
    }

    /// The ledger, oldest first. `after` is the sequence of the last event seen (the previous
    /// page's `next_cursor`), so a client can follow the ledger by polling.
    private func events(_ request: Request, _ context: HushRequestContext) async throws -> JSONBody<EventsOutput> {
        let caller = try context.caller()
        let query = try Query(request, accepting: ["limit", "after", "address"])
        let limit = try query.integer("limit", default: Self.defaultPageSize, range: 1...Self.maximumPageSize)
        let after = try query.cursor("after")
        let address = try await query.optional("address").asyncMap { text in
            try Address(parsing: text, region: try await store.requireOrganization(caller).settings.defaultRegion)
        }
        let page = try await store.events(in: caller.organization, after: after, limit: limit, address: address)
        // An empty page repeats the cursor given (0 when none), so a poller never meets a null.
        let next = String(page.last?.sequence ?? after)
        return JSONBody(EventsOutput(events: page.map(EventJSON.init), nextCursor: next))
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async throws -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
