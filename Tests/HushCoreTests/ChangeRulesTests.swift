import Foundation
import HushCore
import Testing

/// The rules every backend's writes and replays follow, tested once, here.
@Suite struct ChangeRulesTests {
    static let defaultList = ListFacts(id: ListID(rawValue: 1), isDefault: true, name: "default", channels: Set(Channel.allCases))
    static let news = ListFacts(id: ListID(rawValue: 2), isDefault: false, name: "news", channels: [.email])

    static func organization(granular: Bool = false) -> Organization {
        Organization(
            id: OrganizationID(rawValue: 7), name: "acme", settings: OrganizationSettings(granularOptOuts: granular),
            defaultList: defaultList.id)
    }

    static func optOut(_ address: String = "ann@example.com", _ channel: ChannelSelection = .only(.email), source: Source = .api, list: ListID? = nil, hold: Bool = false) throws -> OptOut {
        OptOut(subject: .address(try Address(parsing: address)), channel: channel, list: list, source: source, actor: "test", hold: hold)
    }

    @Test func aChannelArrivedOptOutCoversEveryChannelUnlessTheOrganizationIsGranular() throws {
        for source in [Source.link, .oneClick, .keyword] {
            let plan = try ChangeRules.plan(Self.optOut(source: source), in: Self.organization(), list: Self.defaultList)
            #expect(plan.channel == .all && plan.reachesLinkedContacts, "\(source)")
            let granular = try ChangeRules.plan(Self.optOut(source: source), in: Self.organization(granular: true), list: Self.defaultList)
            #expect(granular.channel == .only(.email) && !granular.reachesLinkedContacts, "\(source)")
        }
        for source in [Source.api, .rep, .import, .crm, .trigger, .preferenceCenter] {
            let plan = try ChangeRules.plan(Self.optOut(source: source), in: Self.organization(), list: Self.defaultList)
            #expect(plan.channel == .only(.email) && !plan.reachesLinkedContacts, "\(source)")
        }
        let everything = try ChangeRules.plan(Self.optOut("ann@example.com", .all, source: .api), in: Self.organization(), list: Self.defaultList)
        #expect(everything.channel == .all && !everything.reachesLinkedContacts, "a caller's `all` stays on the address it names")
    }

    @Test func aListMustExistAndCoverTheChannel() throws {
        #expect(throws: HushError(.notFound, field: "list", "no list 9 in this organization")) {
            try ChangeRules.plan(Self.optOut(list: ListID(rawValue: 9)), in: Self.organization(), list: nil)
        }
        let planned = try ChangeRules.plan(Self.optOut(list: Self.news.id), in: Self.organization(), list: Self.news)
        #expect(planned.list == Self.news)
        let error = #expect(throws: HushError.self) {
            try ChangeRules.plan(Self.optOut("+14155550100", .only(.sms), list: Self.news.id), in: Self.organization(), list: Self.news)
        }
        #expect(error?.field == "channel" && error?.message == "the list \"news\" does not cover sms")
        #expect(try ChangeRules.check(Self.news.id, Self.news, covers: .all) == Self.news, "`all` means every channel the list covers")
    }

    @Test func theChannelMustSendToTheAddress() throws {
        let error = #expect(throws: HushError.self) {
            try ChangeRules.plan(Self.optOut("ann@example.com", .only(.sms)), in: Self.organization(), list: Self.defaultList)
        }
        #expect(error?.field == "channel")
    }

    @Test func optOutsAreIdempotentAndAHeldOneHardensWhatIsInForce() {
        #expect(ChangeRules.write(hold: false, over: nil) == .create)
        #expect(ChangeRules.write(hold: true, over: nil) == .create)
        #expect(ChangeRules.write(hold: false, over: false) == .keep)
        #expect(ChangeRules.write(hold: false, over: true) == .keep, "an unheld opt-out never softens a held one")
        #expect(ChangeRules.write(hold: true, over: true) == .keep)
        #expect(ChangeRules.write(hold: true, over: false) == .replace)
    }

    @Test func aConfirmationLiftsAtMostWhatItSawAndNeverAHeldSuppression() throws {
        func block(_ sequence: Int64, hold: Bool = false, contact: ContactID? = nil, since: TimeInterval = 0) -> Decision.Block {
            Decision.Block(
                list: Self.defaultList.id, listName: "default", scope: .organization, channel: .only(.email), since: Date(timeIntervalSince1970: since),
                source: .link, eventSequence: sequence, contact: contact, hold: hold)
        }
        let contact = try ContactID(parsing: "crm-1")
        let other = try ContactID(parsing: "crm-2")
        // A contact's opt-out counts only when the address was the contact's before it began:
        // linked at 0, crm-1's opt-out at 0 is seen, crm-2's (linked at 5 s, opted out at 2 s)
        // is not, nor one of a contact the address is not linked to.
        let seen = OptInRequest.liftable(
            [block(1), block(2, hold: true), block(3, contact: contact), block(6, contact: other, since: 2), block(7, contact: try ContactID(parsing: "crm-3"))],
            linkedAt: [contact: 0, other: 5_000])
        #expect(seen == [1, 3])
        let request = OptInRequest(
            id: 5, address: try Address(parsing: "ann@example.com"), contact: nil, channel: .only(.email), scope: .organization,
            list: nil, requestedBy: "key:1", lifts: seen)
        let optIns = try request.confirmingOptIns([block(1), block(3, contact: contact), block(4)], actor: "recipient", context: Evidence())
        #expect(optIns.map(\.subject) == [.address(request.address), .contact(contact)], "what it did not see (4) stays")
        #expect(optIns.allSatisfy { $0.authority == .confirmation([1, 3]) && $0.source == .link })
        #expect(optIns.first?.consent.evidence.fields["reference"] == .string("opt_in_request:5"))
    }

    @Test func aReplayYieldsWhatTheWritesLeftInForce() throws {
        let contact = try ContactID(parsing: "crm-1")
        func event(_ kind: EventKind, _ sequence: Int64, contact: ContactID? = nil, channel: ChannelSelection = .only(.email), hold: Bool = false) -> LedgerReplay.Event<Int64> {
            LedgerReplay.Event(
                kind: kind, sequence: sequence, contact: contact, channel: channel, list: Self.defaultList.id, scope: .organization,
                hold: hold, payload: sequence)
        }
        let standing = LedgerReplay.standing(after: [
            event(.optOut, 1),
            event(.optOut, 2, channel: .only(.sms)),
            event(.optOut, 3),  // already in force: kept as 1
            event(.optOut, 4, contact: contact),  // the contact's own, beside the address's
            event(.optIn, 5, channel: .only(.sms)),
            event(.optOut, 6, hold: true),  // hardens 1 in its place
            event(.optOut, 7, channel: .only(.voice)),
            event(.optIn, 8, channel: .only(.voice)),
        ])
        #expect(standing.map(\.payload) == [6, 4])
        #expect(standing.first?.hold == true)
    }

    @Test func anEventReachesTheEndpointsThatWantIt() {
        let news = Self.news.id
        let endpoints = [
            WebhookEndpoint(id: WebhookID(1), url: "https://a.example/", events: ["opt_out.created", "opt_in.created"]),
            WebhookEndpoint(id: WebhookID(2), url: "https://b.example/", events: ["opt_out.created"], lists: [Self.defaultList.id]),
            WebhookEndpoint(id: WebhookID(3), url: "https://c.example/", events: ["opt_out.created"], ownerList: news),
            WebhookEndpoint(id: WebhookID(4), url: "https://d.example/", events: ["opt_out.created"], enabled: false),
            WebhookEndpoint(id: WebhookID(5), url: "https://e.example/", events: ["inbound.needs_review"], lists: [news]),
        ]
        let at = Date(timeIntervalSince1970: 0)
        let events = [
            WebhookEvent(kind: .optOutCreated, sequence: 1, occurredAt: at, list: news, data: "{}"),
            WebhookEvent(kind: .optOutCreated, sequence: 2, occurredAt: at, list: Self.defaultList.id, data: "{}"),
            WebhookEvent(kind: .optInCreated, sequence: 3, occurredAt: at, list: news, data: "{}"),
            WebhookEvent(kind: .inboundNeedsReview, sequence: nil, occurredAt: at, list: nil, data: "{}"),
        ]
        #expect(WebhookRouting.endpoints(for: events, among: endpoints).map { $0.map(\.rawValue) } == [[1, 3], [1, 2], [1], [5]])
    }

    @Test func aListsOwnEndpointFollowsItsURL() {
        #expect(WebhookRouting.listEndpoint(url: nil, endpoint: nil) == .none)
        #expect(WebhookRouting.listEndpoint(url: "https://x.example/", endpoint: nil) == .create(url: "https://x.example/"))
        #expect(WebhookRouting.listEndpoint(url: "https://y.example/", endpoint: WebhookID(4)) == .retarget(endpoint: WebhookID(4), url: "https://y.example/"))
        #expect(WebhookRouting.listEndpoint(url: nil, endpoint: WebhookID(4)) == .delete(endpoint: WebhookID(4)))
    }

    @Test func aSubjectHasOneStoredForm() throws {
        let erased = ErasureKey.random().hashedKey(for: "ann@example.com")
        for subject in [SubjectKey.address("ann@example.com"), .address("+14155550100"), .contact("crm-1"), .contact("contact:x"), .address(erased)] {
            #expect(SubjectKey(stored: subject.stored) == subject)
        }
        #expect(SubjectKey.contact("crm-1").stored == "contact:crm-1")
        #expect(SubjectKey.address(erased).isErased && erased.hasPrefix("erased:"))
        #expect(!SubjectKey.address("ann@example.com").isErased && !SubjectKey.contact("erased:x").isErased)
    }

    @Test func theDefaultListKeepsItsNameAndEveryChannelAndStays() throws {
        let organization = OrganizationID(rawValue: 7)
        let defaultList = OptOutList(id: Self.defaultList.id, organization: organization, definition: try ListDefinition(name: "default"), isDefault: true)
        let news = OptOutList(id: Self.news.id, organization: organization, definition: try ListDefinition(name: "news"), isDefault: false)
        try DirectoryRules.update(defaultList, to: ListDefinition(name: "default", description: "everything"))
        #expect(throws: HushError(.conflict, field: "name", "the default list cannot be renamed")) {
            try DirectoryRules.update(defaultList, to: ListDefinition(name: "all"))
        }
        #expect(throws: HushError(.conflict, field: "channels", "the default list covers every channel, always")) {
            try DirectoryRules.update(defaultList, to: ListDefinition(name: "default", channels: [.email]))
        }
        #expect(throws: HushError(.conflict, field: "id", "the default list cannot be deleted")) { try DirectoryRules.delete(defaultList) }
        try DirectoryRules.update(news, to: ListDefinition(name: "letters", channels: [.sms]))
        try DirectoryRules.delete(news)
    }

    /// Checks name lists as `lists=a,b`, by id or name: a new name holds no comma and is not all
    /// digits; a list named so before may keep its name while other fields change.
    @Test func aNewListNameNamesOneListInAChecksLists() throws {
        let organization = OrganizationID(rawValue: 7)
        for name in ["vip,gold", "2024", "0"] {
            #expect(throws: HushError.self) { try DirectoryRules.create(ListDefinition(name: name)) }
        }
        try DirectoryRules.create(ListDefinition(name: "vip 2024"))
        let legacy = OptOutList(id: Self.news.id, organization: organization, definition: try ListDefinition(name: "2024"), isDefault: false)
        try DirectoryRules.update(legacy, to: ListDefinition(name: "2024", description: "this year's"))
        #expect(throws: HushError.self) { try DirectoryRules.update(legacy, to: ListDefinition(name: "a,b")) }
    }

    @Test func aListsOwnEndpointChangesOnlyThroughTheList() throws {
        let owned = WebhookEndpoint(id: WebhookID(3), url: "https://c.example/", events: ["opt_out.created"], ownerList: Self.news.id)
        var disabled = owned
        disabled.enabled = false
        try DirectoryRules.update(owned, to: disabled)
        var moved = owned
        moved.url = "https://elsewhere.example/"
        #expect(throws: HushError.self) { try DirectoryRules.update(owned, to: moved) }
        #expect(throws: HushError.self) { try DirectoryRules.delete(endpointOwnedBy: Self.news.id) }
        try DirectoryRules.delete(endpointOwnedBy: nil)
    }

    @Test func onlyAddressesCallersWriteToCountTowardTheLimit() throws {
        #expect(try ChangeRules.countsTowardLimit(Self.optOut(source: .api)))
        #expect(try ChangeRules.countsTowardLimit(Self.optOut(source: .import)))
        #expect(try !ChangeRules.countsTowardLimit(Self.optOut(source: .keyword)))
        #expect(try !ChangeRules.countsTowardLimit(Self.optOut(source: .link)))
        #expect(ChangeRules.overLimit().code == .limitExceeded)
    }

    @Test func aNewOptInRequestReusesTheNewestStillPending() throws {
        let now = Date(timeIntervalSince1970: 1_000_000)
        func request(_ id: Int64, expires: TimeInterval?, confirmed: Bool = false) throws -> OptInRequest {
            OptInRequest(
                id: id, address: try Address(parsing: "ann@example.com"), channel: .only(.email), scope: .organization, list: nil,
                requestedBy: "key:1", confirmedAt: confirmed ? now : nil, expiresAt: expires.map { now.addingTimeInterval($0) })
        }
        let candidates = [try request(1, expires: 60), try request(2, expires: 120), try request(3, expires: -1), try request(4, expires: 60, confirmed: true)]
        #expect(OptInRequest.reused(among: candidates, at: now)?.id == 2)
        #expect(OptInRequest.reused(among: [try request(3, expires: 0)], at: now) == nil, "expired at its moment")
        #expect(OptInRequest.reused(among: [try request(5, expires: nil)], at: now)?.id == 5, "no expiry: pending until confirmed")
    }

    @Test func aSendAnnouncesOnlyWhenSomeoneWasHeldBack() throws {
        var send = Send(name: nil, campaign: nil, channel: .email, scope: .organization, lists: [], actor: "test", createdAt: Date(timeIntervalSince1970: 0))
        #expect(WebhookRouting.announcement(of: send) == nil)
        send.counts.blocked = 1
        #expect(WebhookRouting.announcement(of: send)?.kind == .sendBlocked)
    }
}
