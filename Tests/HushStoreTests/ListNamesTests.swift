import Foundation
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

/// A block names its list, from memory: the name a list has now, in this process and in others.
@Suite(.everyBackend) struct ListNamesTests {
    @Test func blocksNameTheirListsAndARenameAtOnce() async throws {
        let test = try await TestStore()
        let news = try await test.store.createList(in: test.id, ListDefinition(name: "newsletter"))
        _ = try await test.optOut("ann@example.com")
        _ = try await test.optOut("ann@example.com", list: news.id)
        let blocks = try test.check("ann@example.com", lists: [news.id]).blockedBy.sorted { $0.eventSequence < $1.eventSequence }
        #expect(blocks.map(\.listName) == ["default", "newsletter"])

        _ = try await test.store.updateList(news.id, in: test.id, ListDefinition(name: "digest"))
        let renamed = try test.check("ann@example.com", lists: [news.id]).blockedBy.first { $0.list == news.id }
        #expect(renamed?.listName == "digest")
    }

    @Test func aPastDecisionNamesTheListAsItIsNow() async throws {
        let test = try await TestStore()
        let news = try await test.store.createList(in: test.id, ListDefinition(name: "newsletter"))
        _ = try await test.optOut("ann@example.com", list: news.id)
        _ = try await test.store.updateList(news.id, in: test.id, ListDefinition(name: "digest"))
        let query = CheckQuery(channel: .email, lists: [news.id])
        let past = try await test.store.decision(for: Address(parsing: "ann@example.com"), in: test.id, query: query, asOf: test.clock.now)
        #expect(past.blockedBy.map(\.listName) == ["digest"])
        #expect(past.blockedBy == (try test.check("ann@example.com", lists: [news.id])).blockedBy)
    }

    @Test func listsMadeAndRenamedByAnotherProcessAreNamed() async throws {
        let here = try await TestStore()
        let there = try await TestStore.open(here.database)
        let promos = try await there.createList(in: here.id, ListDefinition(name: "promos"))
        let address = try Address(parsing: "ann@example.com")
        _ = try await there.record(
            OptOut(subject: .address(address), channel: .only(.email), scope: .organization, list: promos.id, source: .api, actor: "test"),
            in: here.id)
        let query = CheckQuery(channel: .email, lists: [promos.id])

        try await here.store.catchUp()
        #expect(here.store.decision(for: address, in: here.id, query: query).blockedBy.map(\.listName) == ["promos"])

        _ = try await there.updateList(promos.id, in: here.id, ListDefinition(name: "offers"))
        try await here.indexed.follower.refreshListNames()
        #expect(here.store.decision(for: address, in: here.id, query: query).blockedBy.map(\.listName) == ["offers"])
    }
}
