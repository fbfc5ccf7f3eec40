import Foundation
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

@Suite(.everyBackend) struct DurabilityTests {
    /// Acknowledged means durable: every commit is flushed before it returns. SQLite: FULL
    /// synchronous in WAL mode (GRDB turns WAL on with NORMAL). PostgreSQL: `synchronous_commit`
    /// on for the store's connections whatever the server's default, and `fsync` on.
    @Test func writerCommitsDurably() async throws {
        let test = try await TestStore()
        switch Backend.current {
        case .sqlite:
            #expect(try await test.sql("PRAGMA synchronous") == [["2"]], "PRAGMA synchronous must be FULL (2)")
            #expect(try await test.sql("PRAGMA journal_mode") == [["wal"]])
        case .postgres:
            #expect(try await test.sql("SHOW synchronous_commit") == [["on"]])
            #expect(try await test.sql("SHOW fsync") == [["on"]])
        }
    }

    @Test func newStoreOnSameFileSeesEverything() async throws {
        let first = try await TestStore()
        let news = try await first.store.createList(in: first.id, ListDefinition(name: "newsletter", keywords: ["news"]))
        _ = try await first.optOut("ann@example.com", scope: "brand")
        _ = try await first.optOut("+14155550100", "sms", list: news.id)
        _ = try await first.store.link([Address(parsing: "bob@example.com")], to: ContactID(parsing: "crm-1"), in: first.id)
        _ = try await first.store.record(
            OptOut(subject: .contact(ContactID(parsing: "crm-1")), channel: .all, actor: "test"), in: first.id)
        try await first.store.close()

        let reopened = try await TestStore(database: first.database)
        #expect(reopened.organization == first.organization)
        #expect(try reopened.isBlocked("ann@example.com", scope: "brand/alice"))
        #expect(try reopened.isBlocked("+14155550100", .sms, lists: [news.id]))
        #expect(try reopened.isBlocked("bob@example.com"))
        #expect(reopened.store.indexedCount == 3)
        #expect(try await reopened.store.lists(in: reopened.id).map(\.definition.keywords) == [[], ["NEWS"]])
    }

    @Test func writesOfAnotherProcessAreFollowed() async throws {
        let writer = try await TestStore()
        let reader = try await TestStore(database: writer.database)
        #expect(try !reader.isBlocked("ann@example.com"))

        _ = try await writer.optOut("ann@example.com")
        let seen = try await following(reader.store) { try reader.isBlocked("ann@example.com") }
        #expect(seen, "the second store did not see the opt-out")
    }

    @Test func optInsOfAnotherProcessAreFollowed() async throws {
        let writer = try await TestStore()
        _ = try await writer.optOut("ann@example.com")
        let reader = try await TestStore(database: writer.database)
        #expect(try reader.isBlocked("ann@example.com"))
        _ = try await writer.store.record(
            OptIn(subject: .address(Address(parsing: "ann@example.com")), channel: .only(.email), actor: "admin",
                  consent: Consent(kind: "written_consent", reference: "ticket-1"), authority: .admin),
            in: writer.id)
        try await reader.store.catchUp()
        #expect(try !reader.isBlocked("ann@example.com"))
    }
}
