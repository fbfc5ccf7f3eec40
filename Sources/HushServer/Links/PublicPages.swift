import Foundation
import Hummingbird
import HushCore
import HushStore

/// The pages people reach from links in messages, without an API key: one-click unsubscribe
/// (RFC 8058), the preference center and the confirmation of an opt back in. GET never changes
/// anything (mail scanners follow links); every form carries a token bound to its link.
struct PublicPages: Sendable {
    /// The version of the pages' wording, kept in the evidence of what they record.
    static let pageVersion = "preferences-2026-11"
    static let maximumBodyBytes = 64 * 1024

    let store: any AccessStore & Directory & Ledger & LinkStore & SuppressionChecks & ConsoleStore
    let links: LinkService
    let requests: OptInRequests
    let metrics: ServerMetrics
    let limiter: RateLimiter
    let now: @Sendable () -> Date

    func register(on router: Router<HushRequestContext>) {
        let pages = router.group().add(middleware: RateLimitMiddleware(limiter: limiter, links: links))
        pages.get("u/:token") { request, context in try await page { try await preferences(request, context) } }
        pages.post("u/:token") { request, context in try await page { try await unsubscribe(request, context) } }
        pages.post("u/:token/resubscribe") { request, context in try await page { try await resubscribe(request, context) } }
        pages.get("c/:token") { request, context in try await page { try await confirmPage(request, context) } }
        pages.post("c/:token") { request, context in try await page { try await confirm(request, context) } }
    }

    // MARK: Unsubscribe links

    private func preferences(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let link = try await verified(context, purpose: .unsubscribe)
        let (organization, lists) = try await owner(of: link.claims)
        let csrf = try await links.formToken(for: link.tokenID)
        let claims = link.claims
        let scope = try Scope(parsing: claims.scope)
        let brand = Brand(organization)
        let scopes = Self.scopeChoices(scope, names: try await store.scopeNames(in: organization.id), brand: brand)
        let channels = reachable(claims).map { channel -> [String: Any] in
            ["value": channel.rawValue, "label": PageText.string("channel_" + channel.rawValue), "checked": channel.rawValue == claims.channel]
        }
        let offered = Set(reachable(claims))
        let named = lists.filter { list in
            !list.isDefault && list.definition.isPublic && !list.definition.channels.isDisjoint(with: offered)
        }.map { list -> [String: Any] in
            ["value": String(list.id.rawValue), "label": list.definition.name, "checked": list.id.rawValue == claims.list]
        }
        let blocks = try blocking(claims, organization: organization)
        let blocked = !blocks.isEmpty
        // "Subscribe again" only where the person's confirmation would lift something: their own
        // opt-outs, not held (what a rep, an import or a CRM recorded takes an admin).
        let resubscribable = blocks.contains(where: LiftAuthority.personMayLift)
        return PageText.render("preferences", status: .ok, [
            "title": PageText.string("preferences_title"), "brand": brand.values, "address": claims.address,
            "action": "/u/" + tokenText(context), "resubscribe_action": "/u/" + tokenText(context) + "/resubscribe",
            "csrf": csrf, "scopes": scopes, "granular": organization.settings.granularOptOuts && channels.count > 1, "channels": channels,
            "has_lists": !named.isEmpty, "lists": named, "blocked": blocked, "resubscribable": resubscribable,
        ])
    }

    /// The choices of whom to stop hearing from: this sender and its client by their display
    /// names (their paths when unnamed), the organization, everything.
    static func scopeChoices(_ scope: Scope, names: [Scope: String], brand: Brand) -> [[String: Any]] {
        var scopes: [[String: Any]] = []
        if !scope.path.isEmpty {
            scopes.append(["value": "sender", "label": PageText.format("scope_sender", names[scope] ?? scope.path), "checked": true])
            if let parent = scope.parent, !parent.path.isEmpty {
                scopes.append(["value": "client", "label": PageText.format("scope_client", names[parent] ?? parent.path)])
            }
        }
        scopes.append(["value": "organization", "label": PageText.format("scope_organization", brand.name), "checked": scope.path.isEmpty])
        scopes.append(["value": "all", "label": PageText.format("scope_all", brand.name)])
        return scopes
    }

    /// One-click (`List-Unsubscribe=One-Click`) records at once and answers 200; any other post
    /// is the preference form and must carry the link's form token.
    private func unsubscribe(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let link = try await verified(context, purpose: .unsubscribe)
        let form = try await FormBody(request, context: context, limit: Self.maximumBodyBytes)
        let (organization, lists) = try await owner(of: link.claims)
        let claims = link.claims
        let address = try Address(parsing: claims.address)
        let scope = try Scope(parsing: claims.scope)
        if form.first("List-Unsubscribe") == "One-Click" {
            // A one-click unsubscribe always records something: when the link's list was deleted
            // or no longer covers its channel, the default list takes it, and the evidence says so.
            let channel = try Channel(parsing: claims.channel)
            var proof = evidence(request, context, link: link, page: nil)
            var list = claims.list.map(ListID.init(rawValue:))
            if let named = list, !lists.contains(where: { $0.id == named && $0.definition.channels.contains(channel) }) {
                proof.fields["link_list"] = .number(Double(named.rawValue))
                proof.fields["recorded_on"] = .string("default: the link's list was deleted or no longer covers \(channel.rawValue)")
                list = nil
            }
            let optOut = OptOut(
                subject: .address(address), channel: .only(channel), scope: scope, list: list, source: .oneClick,
                actor: "link:\(link.tokenID)", evidence: proof)
            let outcome = try await store.record(optOut, in: organization.id)
            metrics.optOutsRecorded.increment(by: Int64(outcome.events.count))
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            headers[.cacheControl] = "no-store"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: PageText.string("one_click_done") + "\n")))
        }
        try await requireFormToken(form, link: link)

        let brand = Brand(organization)
        let choice = form.first("choice") ?? "organization"
        let chosenScope: Scope
        switch choice {
        case "sender": chosenScope = scope
        case "client": chosenScope = scope.parent ?? .organization
        case "organization", "all": chosenScope = .organization
        default: throw Problem.invalid("choice", "choose sender, client, organization or all")
        }
        var channels: [ChannelSelection] = [.all]
        let offered = reachable(claims)
        if choice != "all" && organization.settings.granularOptOuts && offered.count > 1 {
            channels = try form.all("channels").map { name in
                let channel = try Channel(parsing: name, field: "channels")
                guard offered.contains(channel) else { throw Problem.invalid("channels", "\(channel.rawValue) is not offered here") }
                return .only(channel)
            }
            guard !channels.isEmpty else { throw Problem.invalid("channels", "choose at least one channel") }
        }
        let contact = try claims.contact.map { (id) throws(HushError) in try ContactID(parsing: id) }
        var chosenLists: [OptOutList] = []
        if choice != "all" {
            for value in form.all("lists") {
                guard let list = lists.first(where: { String($0.id.rawValue) == value && !$0.isDefault && $0.definition.isPublic }) else {
                    throw Problem.invalid("lists", "no such list")
                }
                chosenLists.append(list)
            }
        }
        let proof = evidence(request, context, link: link, page: Self.pageVersion)
        var optOuts: [OptOut] = []
        var recorded: [String] = []
        for channel in channels {
            // The chosen lists that cover the channel; when none does (texts ticked with only an
            // email list), the channel stops for all messages: a ticked channel is never dropped.
            let covering = chosenLists.filter { list in
                if case .only(let only) = channel { list.definition.channels.contains(only) } else { true }
            }
            let targets: [OptOutList?] = covering.isEmpty ? [nil] : covering
            for list in targets {
                // A channel that cannot reach this address (texts, for an email address) is
                // stopped for the person: the contact the link names.
                let subject: Subject = channel.accepts(address.kind) ? .address(address) : .contact(contact!)
                optOuts.append(OptOut(
                    subject: subject, channel: channel, scope: chosenScope, list: list?.id, source: .preferenceCenter,
                    actor: "link:\(link.tokenID)", evidence: proof))
                recorded.append(PageText.format(
                    "recorded_line", channel == .all ? PageText.string("all_channels") : PageText.string("channel_\(channel.rawValue)"),
                    chosenScope.path.isEmpty ? brand.name : chosenScope.path, list?.definition.name ?? PageText.string("all_messages")))
            }
        }
        let outcomes = try await store.record(optOuts, in: organization.id)
        metrics.optOutsRecorded.increment(by: Int64(outcomes.reduce(0) { $0 + $1.events.count }))
        return PageText.render("done", status: .ok, [
            "title": PageText.string("done_title"), "brand": brand.values, "address": claims.address, "recorded": recorded,
            "csrf": try await links.formToken(for: link.tokenID), "resubscribe_action": "/u/" + tokenText(context) + "/resubscribe",
        ])
    }

    /// Opting back in from the preference center records nothing: it creates a pending opt-in
    /// that the person confirms through a link the sender delivers.
    private func resubscribe(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let link = try await verified(context, purpose: .unsubscribe)
        let form = try await FormBody(request, context: context, limit: Self.maximumBodyBytes)
        try await requireFormToken(form, link: link)
        let (organization, _) = try await owner(of: link.claims)
        let claims = link.claims
        let brand = Brand(organization)
        guard try blocking(claims, organization: organization).contains(where: LiftAuthority.personMayLift) else {
            // Nothing here the person's confirmation could lift: no request, and no link that would lift nothing.
            return PageText.render("message", status: .ok, [
                "title": PageText.string("pending_title"), "brand": brand.values, "heading": PageText.string("confirm_title"),
                "text": PageText.format("nothing_lifted_text", brand.name),
            ])
        }
        _ = try await requests.make(OptInRequest(
            address: try Address(parsing: claims.address), contact: try claims.contact.map { (id) throws(HushError) in try ContactID(parsing: id) },
            channel: .only(try Channel(parsing: claims.channel)), scope: try Scope(parsing: claims.scope),
            list: claims.list.map(ListID.init(rawValue:)), requestedBy: "preference_center"), in: organization)
        return PageText.render("message", status: .ok, [
            "title": PageText.string("pending_title"), "brand": brand.values, "heading": PageText.string("pending_title"),
            "text": PageText.format("pending_text", brand.name),
        ])
    }

    // MARK: Confirming an opt back in

    private func confirmPage(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let link = try await verified(context, purpose: .confirm)
        let (organization, _) = try await owner(of: link.claims)
        let brand = Brand(organization)
        let pending = try await optInRequest(link.claims, organization: organization)
        if pending.confirmedAt != nil {
            return PageText.render("message", status: .ok, [
                "title": PageText.string("confirmed_title"), "brand": brand.values, "heading": PageText.string("confirmed_title"),
                "text": PageText.string("already_confirmed_text"),
            ])
        }
        if pending.isExpired(at: now()) { return expired(brand) }
        return PageText.render("confirm", status: .ok, [
            "title": PageText.string("confirm_title"), "brand": brand.values,
            "confirm_text": PageText.format("confirm_text", brand.name, link.claims.address),
            "action": "/c/" + tokenText(context), "csrf": try await links.formToken(for: link.tokenID),
        ])
    }

    /// Lifts what the request saw when it was made and is still in force, with the click as
    /// evidence; an expired request changes nothing.
    private func confirm(_ request: Request, _ context: HushRequestContext) async throws -> Response {
        let link = try await verified(context, purpose: .confirm)
        let form = try await FormBody(request, context: context, limit: Self.maximumBodyBytes)
        try await requireFormToken(form, link: link)
        let (organization, _) = try await owner(of: link.claims)
        let brand = Brand(organization)
        let pending = try await optInRequest(link.claims, organization: organization)
        if pending.confirmedAt == nil && pending.isExpired(at: now()) { return expired(brand) }
        var proof = evidence(request, context, link: link, page: Self.pageVersion)
        proof.fields["confirmation_text"] = .string(PageText.format("confirm_text", brand.name, pending.address.normalized))
        let outcome = try await requests.confirm(pending, actor: "link:\(link.tokenID)", evidence: proof, in: organization)
        return PageText.render("message", status: .ok, [
            "title": PageText.string("confirmed_title"), "brand": brand.values, "heading": PageText.string("confirmed_title"),
            "text": outcome.map { lifted in
                lifted.contains { $0.event != nil } ? PageText.format("confirmed_text", brand.name) : PageText.format("nothing_lifted_text", brand.name)
            } ?? PageText.string("already_confirmed_text"),
        ])
    }

    // MARK: Shared

    private func expired(_ brand: Brand) -> Response {
        PageText.render("message", status: .gone, [
            "title": PageText.string("confirm_expired_title"), "brand": brand.values, "heading": PageText.string("confirm_expired_title"),
            "text": PageText.string("confirm_expired_text"),
        ])
    }

    private func tokenText(_ context: HushRequestContext) -> String {
        context.parameters.get("token") ?? ""
    }

    private func verified(_ context: HushRequestContext, purpose: LinkClaims.Purpose) async throws -> (claims: LinkClaims, tokenID: String) {
        let link = try await links.verify(tokenText(context))
        guard link.claims.purpose == purpose else {
            throw HushError.invalid("token", "this link is not meant for this page")
        }
        return link
    }

    private func owner(of claims: LinkClaims) async throws -> (Organization, [OptOutList]) {
        guard let organization = try await store.organization(OrganizationID(rawValue: claims.organization)) else {
            throw HushError(.notFound, field: "token", "the sender of this link no longer uses this service")
        }
        return (organization, try await store.lists(in: organization.id))
    }

    private func optInRequest(_ claims: LinkClaims, organization: Organization) async throws -> OptInRequest {
        guard let id = claims.request, let pending = try await store.optInRequest(id, in: organization.id) else {
            throw HushError(.notFound, field: "token", "this confirmation is no longer pending")
        }
        return pending
    }

    private func blocking(_ claims: LinkClaims, organization: Organization) throws -> Decision.Blocks {
        try store.decision(
            for: Address(parsing: claims.address), in: organization.id,
            query: CheckQuery(channel: Channel(parsing: claims.channel), scope: Scope(parsing: claims.scope),
                              lists: Set(claims.list.map { [ListID(rawValue: $0)] } ?? []))
        ).blockedBy
    }

    /// The channels the page offers: those that reach the address, and with a contact in the
    /// link every channel (the others reach the person's other addresses).
    private func reachable(_ claims: LinkClaims) -> [Channel] {
        let kind: Address.Kind = claims.address.contains("@") ? .email : .phone
        return Channel.allCases.filter { claims.contact != nil || $0.addressKind == kind }
    }

    private func requireFormToken(_ form: FormBody, link: (claims: LinkClaims, tokenID: String)) async throws {
        guard let given = form.first("csrf"), try await links.isValidFormToken(given, for: link.tokenID) else {
            throw HushError(.forbidden, field: "csrf", PageText.string("form_expired_text"))
        }
    }

    /// What a public write keeps as evidence.
    private func evidence(_ request: Request, _ context: HushRequestContext, link: (claims: LinkClaims, tokenID: String), page: String?) -> Evidence {
        var fields: [String: JSONValue] = [
            "ip": .string(context.remoteIP), "token_id": .string(link.tokenID),
            "user_agent": .string(String((request.headers[.userAgent] ?? "").prefix(300))),
        ]
        if let campaign = link.claims.campaign { fields["campaign"] = .string(campaign) }
        if let page { fields["page_version"] = .string(page) }
        return Evidence(fields)
    }

    /// Runs a page; errors become a page too (HTML, with the right status), never JSON.
    private func page(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch {
            let problem = ProblemMiddleware<HushRequestContext>.problem(for: error)
            let heading = switch problem.status {
            case 403: PageText.string("form_expired_title")
            case 410: PageText.string("confirm_expired_title")
            default: PageText.string("invalid_title")
            }
            return PageText.render("message", status: HTTPResponse.Status(code: problem.status), [
                "title": heading, "brand": Brand(nil).values, "heading": heading, "text": problem.detail,
            ])
        }
    }
}
