import HushCore
import HushTestSupport
import Testing
@testable import HushStore

@Suite(.everyBackend) struct ListsTests {
    @Test func everyOrganizationHasDefault() async throws {
        let test = try await TestStore()
        let lists = try await test.store.lists(in: test.id)
        #expect(lists.map(\.definition.name) == ["default"])
        #expect(lists.first?.isDefault == true)
        #expect(lists.first?.id == test.organization.defaultList)
    }

    @Test func defaultCannotBeDeleted() async throws {
        let test = try await TestStore()
        await #expect(throws: HushError(.conflict, field: "id", "the default list cannot be deleted")) {
            try await test.store.deleteList(test.organization.defaultList, in: test.id)
        }
    }

    @Test func keywordsAreUniqueAmongActiveLists() async throws {
        let test = try await TestStore()
        let news = try await test.store.createList(in: test.id, ListDefinition(name: "news", keywords: ["news"]))
        await #expect {
            try await test.store.createList(in: test.id, ListDefinition(name: "digest", keywords: ["NEWS"]))
        } throws: { error in
            (error as? HushError)?.code == .conflict && (error as? HushError)?.field == "keywords[0]"
        }
        try await test.store.deleteList(news.id, in: test.id)
        let digest = try await test.store.createList(in: test.id, ListDefinition(name: "digest", keywords: ["NEWS"]))
        #expect(digest.definition.keywords == ["NEWS"])
        #expect(try await test.store.list(news.id, in: test.id) == nil)
    }

    @Test func listNamesAreUniqueAmongActiveLists() async throws {
        let test = try await TestStore()
        _ = try await test.store.createList(in: test.id, ListDefinition(name: "news"))
        await #expect {
            try await test.store.createList(in: test.id, ListDefinition(name: "news"))
        } throws: { error in
            (error as? HushError)?.field == "name"
        }
    }

    @Test func updateReplacesDefinition() async throws {
        let test = try await TestStore()
        let news = try await test.store.createList(in: test.id, ListDefinition(name: "news", keywords: ["news"]))
        let updated = try await test.store.updateList(
            news.id, in: test.id,
            ListDefinition(name: "weekly", description: "Weekly digest", keywords: ["weekly"], message: "You left weekly.",
                           webhookURL: "https://hooks.example.com/hush", channels: [.email, .sms]))
        let stored = try #require(try await test.store.list(news.id, in: test.id))
        #expect(updated.webhookSecret != nil, "setting webhook_url makes the list's endpoint and shows its secret once")
        #expect(stored.webhookSecret == nil)
        var shown = updated
        shown.webhookSecret = nil
        #expect(stored == shown)
        #expect(stored.definition.webhookURL == "https://hooks.example.com/hush")
        let cleared = try await test.store.updateList(news.id, in: test.id, ListDefinition(name: "weekly"))
        #expect(cleared.webhook == nil)
        #expect(try await test.store.webhooks(in: test.id).isEmpty, "clearing webhook_url removes the endpoint")
        _ = try await test.store.createList(in: test.id, ListDefinition(name: "news2", keywords: ["news"]))
    }

    @Test func listsOfAnotherOrganizationAreInvisible() async throws {
        let test = try await TestStore()
        let other = try await test.store.createOrganization(named: "globex")
        let theirs = try await test.store.createList(in: other.id, ListDefinition(name: "theirs"))
        #expect(try await test.store.list(theirs.id, in: test.id) == nil)
        await #expect(throws: HushError.self) { try await test.store.deleteList(theirs.id, in: test.id) }
    }

    @Test func optOutOnChannelTheListDoesNotCoverIsRejected() async throws {
        let test = try await TestStore()
        let texts = try await test.store.createList(in: test.id, ListDefinition(name: "texts", channels: [.sms]))
        await #expect {
            try await test.optOut("ann@example.com", "email", list: texts.id)
        } throws: { error in
            (error as? HushError)?.field == "channel"
        }
    }

    @Test func settingsAreStored() async throws {
        let test = try await TestStore()
        let updated = try await test.store.updateSettings(of: test.id) { $0 = OrganizationSettings(granularOptOuts: true, defaultRegion: .gb) }
        #expect(updated.settings.defaultRegion == .gb)
        #expect(try await test.store.organization(named: "acme")?.settings == updated.settings)
    }

    @Test func ownChangesShowAtOnceAndOtherProcessesWithinASecond() async throws {
        let test = try await TestStore()
        let other = try await TestStore.open(test.database, clock: test.clock)
        // Both have read (and cached) the lists and the organization.
        #expect(try await test.store.lists(in: test.id).count == 1)
        #expect(try await other.lists(in: test.id).count == 1)
        _ = try await other.organization(test.id)

        _ = try await test.store.createList(in: test.id, ListDefinition(name: "news"))
        #expect(try await test.store.lists(in: test.id).count == 2, "this process's change clears its cache")
        _ = try await test.store.updateSettings(of: test.id) { $0 = OrganizationSettings(granularOptOuts: true) }
        #expect(try await test.store.organization(test.id)?.settings.granularOptOuts == true)

        test.clock.advance(by: 0.9)
        #expect(try await other.lists(in: test.id).count == 1, "another process's cache holds for a second")
        test.clock.advance(by: 0.1)
        #expect(try await other.lists(in: test.id).count == 2, "another process's change shows within the cache's lifetime")
        #expect(try await other.organization(test.id)?.settings.granularOptOuts == true)
        try await other.close()
    }
}
