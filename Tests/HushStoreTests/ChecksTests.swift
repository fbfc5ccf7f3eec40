import HushCore
import HushTestSupport
import Testing
@testable import HushStore

@Suite(.everyBackend) struct ChecksTests {
    @Test func optOutAtOrganizationBlocksEveryScopeBelow() async throws {
        let test = try await TestStore()
        _ = try await test.optOut("ann@example.com", scope: "")
        #expect(try test.isBlocked("ann@example.com", scope: "a/b/c"))
        #expect(try test.isBlocked("ann@example.com", scope: ""))
    }

    @Test func optOutAtScopeBlocksItsDescendantsButNotSiblings() async throws {
        let test = try await TestStore()
        _ = try await test.optOut("ann@example.com", scope: "a/b")
        #expect(try test.isBlocked("ann@example.com", scope: "a/b"))
        #expect(try test.isBlocked("ann@example.com", scope: "a/b/c"))
        #expect(try !test.isBlocked("ann@example.com", scope: "a/x"))
        #expect(try !test.isBlocked("ann@example.com", scope: "a"))
        #expect(try !test.isBlocked("ann@example.com", scope: "a/bc"))
    }

    @Test func customListBlocksOnlyChecksThatNameIt() async throws {
        let test = try await TestStore()
        let news = try await test.store.createList(in: test.id, ListDefinition(name: "newsletter"))
        _ = try await test.optOut("ann@example.com", list: news.id)
        #expect(try !test.isBlocked("ann@example.com"))
        #expect(try test.isBlocked("ann@example.com", lists: [news.id]))
    }

    @Test func defaultListCountsForEveryCheck() async throws {
        let test = try await TestStore()
        let news = try await test.store.createList(in: test.id, ListDefinition(name: "newsletter"))
        _ = try await test.optOut("ann@example.com")
        #expect(try test.isBlocked("ann@example.com", lists: [news.id]))
        #expect(try test.isBlocked("ann@example.com"))
    }

    @Test func channelAllBlocksEveryChannelOfThatNumber() async throws {
        let test = try await TestStore()
        _ = try await test.optOut("+14155550100", "all")
        for channel in [Channel.sms, .whatsapp, .voice] {
            #expect(try test.isBlocked("+14155550100", channel))
        }
    }

    @Test func singleChannelOptOutLeavesOtherChannels() async throws {
        let test = try await TestStore()
        _ = try await test.optOut("+14155550100", "sms")
        #expect(try test.isBlocked("+14155550100", .sms))
        #expect(try !test.isBlocked("+14155550100", .voice))
    }

    @Test func decisionListsEveryBlockingSuppression() async throws {
        let test = try await TestStore()
        let news = try await test.store.createList(in: test.id, ListDefinition(name: "newsletter"))
        let first = try await test.optOut("ann@example.com", scope: "")
        let second = try await test.optOut("ann@example.com", scope: "brand", list: news.id, source: .rep)
        let decision = try test.check("Ann@Example.com", scope: "brand/alice", lists: [news.id])
        #expect(!decision.allowed)
        #expect(decision.address.normalized == "ann@example.com")
        let blocks = decision.blockedBy.sorted { $0.eventSequence < $1.eventSequence }
        #expect(blocks.map(\.eventSequence) == [first.events[0].sequence, second.events[0].sequence])
        #expect(blocks.map(\.list) == [test.organization.defaultList, news.id])
        #expect(blocks.map(\.scope.path) == ["", "brand"])
        #expect(blocks.map(\.source) == [.api, .rep])
        #expect(blocks[0].since == test.clock.now)
        #expect(blocks.map(\.listName) == [ListDefinition.defaultName, "newsletter"])
    }

    @Test func batchDecisionsAnswerEachAddressInOrder() async throws {
        let test = try await TestStore()
        _ = try await test.optOut("b@example.com")
        let addresses = try ["a@example.com", "b@example.com", "c@example.com"].map { try Address(parsing: $0) }
        let decisions = test.store.decisions(for: addresses, in: test.id, query: CheckQuery(channel: .email))
        #expect(decisions.map(\.allowed) == [true, false, true])
        #expect(decisions.map(\.address.normalized) == ["a@example.com", "b@example.com", "c@example.com"])
    }

    @Test func organizationsNeverSeeEachOthersSuppressions() async throws {
        let test = try await TestStore()
        let other = try await test.store.createOrganization(named: "globex")
        _ = try await test.optOut("ann@example.com")
        let query = CheckQuery(channel: .email)
        #expect(test.store.decision(for: try Address(parsing: "ann@example.com"), in: other.id, query: query).allowed)
        #expect(try await test.store.suppressions(of: Address(parsing: "ann@example.com"), in: other.id).isEmpty)
        #expect(try await test.store.events(in: other.id, after: 0, limit: 10, address: nil).isEmpty)
    }

    @Test func listOfAnotherOrganizationCannotBeUsed() async throws {
        let test = try await TestStore()
        let other = try await test.store.createOrganization(named: "globex")
        let theirs = try await test.store.createList(in: other.id, ListDefinition(name: "theirs"))
        await #expect(throws: HushError(.notFound, field: "list", "no list \(theirs.id) in this organization")) {
            try await test.optOut("ann@example.com", list: theirs.id)
        }
    }
}
