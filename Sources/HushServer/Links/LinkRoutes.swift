import Foundation
import Hummingbird
import HushCore
import HushStore

/// `/v1/unsubscribe-links` and `/v1/opt-in-requests`: what senders put into their messages.
struct LinkRoutes: Sendable {
    static let maximumCampaignLength = 100

    let store: any AccessStore & Directory & LinkStore
    let links: LinkService
    let requests: OptInRequests
    let now: @Sendable () -> Date

    func register(on group: V1Group) {
        group.on(.post, "unsubscribe-links") { request, context in try await createLink(request, context) }
        group.on(.post, "opt-in-requests") { request, context in try await createOptInRequest(request, context) }
        group.on(.get, "opt-in-requests") { request, context in try await optInRequests(request, context) }
    }

    struct LinkInput: APIInput {
        static let fields: Set<String> = ["address", "contact", "channel", "scope", "list", "campaign"]
        let address: String
        let contact: String?
        let channel: String
        let scope: String?
        let list: ListReference?
        let campaign: String?
    }

    struct LinkOutput: Encodable, Sendable {
        let url: String
        let oneClickURL: String
        let headers: [String: String]

        enum CodingKeys: String, CodingKey {
            case url, headers
            case oneClickURL = "one_click_url"
        }
    }

    /// Links for one message: the preference center URL, the one-click URL and the two headers
    /// RFC 8058 asks for. With a contact, the address is linked to it, so a one-click opt-out
    /// with granular opt-outs off reaches the person's other addresses too.
    private func createLink(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        let input = try await request.input(LinkInput.self, context: context)
        let organization = try await store.requireOrganization(caller)
        let address = try Address(parsing: input.address, region: organization.settings.defaultRegion)
        let channel = try Channel(parsing: input.channel)
        guard channel == .email else {
            throw Problem.invalid("channel", "unsubscribe links are for email; texts opt out by keyword")
        }
        try channel.requireSendable(to: address)
        let scope = try Scope(parsing: input.scope ?? "")
        let list = try await input.list?.resolve(in: caller.organization, store: store, field: "list")
        if let campaign = input.campaign, campaign.count > Self.maximumCampaignLength {
            throw Problem.invalid("campaign", "a campaign has at most \(Self.maximumCampaignLength) characters")
        }
        let contact = try input.contact.map { (id) throws(HushError) in try ContactID(parsing: id) }
        if let contact {
            _ = try await store.link([address], to: contact, in: caller.organization)
        }
        let token = try await links.sign(LinkClaims(
            purpose: .unsubscribe, organization: caller.organization.rawValue, address: address.normalized,
            contact: contact?.externalID, channel: channel.rawValue, scope: scope.path, list: list?.rawValue,
            campaign: input.campaign, issuedAt: Int64(now().timeIntervalSince1970)))
        let url = links.unsubscribeURL(token)
        var unsubscribe = "<\(url)>"
        if let mailto = links.configuration.unsubscribeMailto {
            unsubscribe += ", <mailto:\(mailto)?subject=unsubscribe%20\(token)>"
        }
        let output = LinkOutput(url: url, oneClickURL: url, headers: [
            "List-Unsubscribe": unsubscribe,
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        ])
        return try JSONBody(output, status: .created).response(from: request, context: context)
    }

    // MARK: Pending opt-ins

    struct OptInRequestInput: APIInput {
        static let fields: Set<String> = ["address", "contact", "channel", "scope", "list"]
        let address: String
        let contact: String?
        let channel: String
        let scope: String?
        let list: ListReference?
    }

    struct OptInRequestJSON: Encodable, Sendable {
        let id: Int64
        let address: String
        let channel: String
        let scope: String
        let list: Int64
        let requestedBy: String
        let createdAt: Date
        @NullEncoded var confirmedAt: Date?
        @NullEncoded var expiresAt: Date?
        /// Only in answers to admin keys: a member never sees a confirmation link.
        let confirmURL: String?

        enum CodingKeys: String, CodingKey {
            case id, address, channel, scope, list
            case requestedBy = "requested_by"
            case createdAt = "created_at"
            case confirmedAt = "confirmed_at"
            case expiresAt = "expires_at"
            case confirmURL = "confirm_url"
        }
    }

    struct OptInRequestsJSON: Encodable, Sendable {
        let requests: [OptInRequestJSON]
    }

    /// A pending opt-in; its link reaches the person through the `opt_in.requested` webhook, and
    /// only admin keys see it in answers. Nothing is lifted until the person confirms, and then
    /// at most what blocked when the request was made. A request for something already pending
    /// answers the pending one (200).
    private func createOptInRequest(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let caller = try context.caller()
        let input = try await request.input(OptInRequestInput.self, context: context)
        let organization = try await store.requireOrganization(caller)
        let address = try Address(parsing: input.address, region: organization.settings.defaultRegion)
        let channel = try ChannelSelection(parsing: input.channel)
        guard channel.accepts(address.kind) else {
            throw Problem.invalid("channel", "\(channel) does not send to \"\(address.input)\"")
        }
        let stored = try await requests.make(OptInRequest(
            address: address, contact: try input.contact.map { (id) throws(HushError) in try ContactID(parsing: id) },
            channel: channel, scope: try Scope(parsing: input.scope ?? ""),
            list: try await input.list?.resolve(in: caller.organization, store: store, field: "list"), requestedBy: caller.actor),
            in: organization)
        return try JSONBody(try await json(stored.request, for: caller), status: stored.created ? .created : .ok)
            .response(from: request, context: context)
    }

    private func optInRequests(_ request: Request, _ context: HushRequestContext) async throws -> JSONBody<OptInRequestsJSON> {
        let caller = try context.caller()
        let query = try Query(request, accepting: ["status", "limit", "after"])
        let status = query.optional("status") ?? "pending"
        guard ["pending", "all"].contains(status) else { throw Problem.invalid("status", "status is pending or all") }
        let limit = try query.integer("limit", default: 100, range: 1...1_000)
        let stored = try await store.optInRequests(
            in: caller.organization, pendingOnly: status == "pending", after: try query.cursor("after"), limit: limit)
        var requests: [OptInRequestJSON] = []
        for request in stored { requests.append(try await json(request, for: caller)) }
        return JSONBody(OptInRequestsJSON(requests: requests))
    }

    private func json(_ request: OptInRequest, for caller: Principal) async throws -> OptInRequestJSON {
        OptInRequestJSON(
            id: request.id, address: request.address.normalized, channel: request.channel.rawValue, scope: request.scope.path,
            list: request.list?.rawValue ?? 0, requestedBy: request.requestedBy, createdAt: request.createdAt,
            confirmedAt: request.confirmedAt, expiresAt: request.expiresAt,
            confirmURL: caller.role == .admin ? try await requests.confirmURL(request, in: caller.organization) : nil)
    }
}
