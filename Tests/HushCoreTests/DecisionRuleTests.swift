import Testing

@testable import HushCore

private let defaultList = ListID(rawValue: 1)
private let promotions = ListID(rawValue: 2)
private let newsletter = ListID(rawValue: 3)

@Test func suppressionOnTheDefaultListBlocksEverySend() {
    let query = CheckQuery(channel: .email)
    #expect(query.isBlocked(by: .all, scope: .organization, list: defaultList, listIsDefault: true))
}

@Test func suppressionOnTheDefaultListBlocksEvenWhenOtherListsAreHonoured() {
    let query = CheckQuery(channel: .email, lists: [promotions])
    #expect(query.isBlocked(by: .all, scope: .organization, list: defaultList, listIsDefault: true))
}

@Test func suppressionOnACustomListBlocksASendThatHonoursIt() {
    let query = CheckQuery(channel: .email, lists: [promotions, newsletter])
    #expect(query.isBlocked(by: .all, scope: .organization, list: promotions, listIsDefault: false))
}

@Test func suppressionOnACustomListDoesNotBlockASendThatHonoursNoLists() {
    let query = CheckQuery(channel: .email)
    #expect(!query.isBlocked(by: .all, scope: .organization, list: promotions, listIsDefault: false))
}

@Test func suppressionOnACustomListDoesNotBlockASendHonouringAnotherList() {
    let query = CheckQuery(channel: .email, lists: [newsletter])
    #expect(!query.isBlocked(by: .all, scope: .organization, list: promotions, listIsDefault: false))
}

@Test(arguments: Channel.allCases)
func suppressionOnAllChannelsBlocksEveryChannel(channel: Channel) {
    let query = CheckQuery(channel: channel)
    #expect(query.isBlocked(by: .all, scope: .organization, list: defaultList, listIsDefault: true))
}

@Test(arguments: Channel.allCases, Channel.allCases)
func suppressionOnOneChannelBlocksOnlyThatChannel(suppressed: Channel, sent: Channel) {
    let query = CheckQuery(channel: sent)
    let blocked = query.isBlocked(by: .only(suppressed), scope: .organization, list: defaultList, listIsDefault: true)
    #expect(blocked == (suppressed == sent))
}

@Test(arguments: ["", "acme", "acme/news", "acme/news/alice"])
func suppressionAtOrAboveTheSendingScopeBlocks(suppressedAt: String) throws {
    let query = CheckQuery(channel: .sms, scope: try Scope(parsing: "acme/news/alice"))
    let scope = try Scope(parsing: suppressedAt)
    #expect(query.isBlocked(by: .all, scope: scope, list: defaultList, listIsDefault: true))
}

@Test(arguments: ["acme/news/alice/east", "acme/news/bob", "acme/sport", "acme/newsletter", "other"])
func suppressionBelowOrBesideTheSendingScopeDoesNotBlock(suppressedAt: String) throws {
    let query = CheckQuery(channel: .sms, scope: try Scope(parsing: "acme/news"))
    let scope = try Scope(parsing: suppressedAt)
    #expect(!query.isBlocked(by: .all, scope: scope, list: defaultList, listIsDefault: true))
}

@Test func sendFromTheOrganizationIsBlockedOnlyByOrganizationWideSuppressions() throws {
    let query = CheckQuery(channel: .voice)
    #expect(!query.isBlocked(by: .all, scope: try Scope(parsing: "acme"), list: defaultList, listIsDefault: true))
}

@Test func suppressionMustMatchChannelScopeAndListTogether() throws {
    let query = CheckQuery(channel: .sms, scope: try Scope(parsing: "acme/news"), lists: [promotions])
    let scope = try Scope(parsing: "acme")
    #expect(query.isBlocked(by: .only(.sms), scope: scope, list: promotions, listIsDefault: false))
    #expect(!query.isBlocked(by: .only(.email), scope: scope, list: promotions, listIsDefault: false))
    #expect(!query.isBlocked(by: .only(.sms), scope: try Scope(parsing: "acme/sport"), list: promotions, listIsDefault: false))
    #expect(!query.isBlocked(by: .only(.sms), scope: scope, list: newsletter, listIsDefault: false))
}
