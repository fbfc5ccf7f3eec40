import Foundation
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

/// A store with an index snapshot writes its index at close and, opened again on a database that
/// matches, reads it back and replays what was written after it; a snapshot that does not match
/// the database, or is damaged, is ignored.
@Suite(.everyBackend) struct IndexSnapshotTests {
    /// A file path of the test's own, removed when it ends.
    static func snapshotFile() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hush-index-\(UUID().uuidString)").path
        TestScope.onEnd { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    static let addresses = ["ann@example.com", "bob@example.com", "carol@example.com", "dave@example.com", "eve@example.com",
                            "frank@example.com", "+14155550100", "nobody@example.com"]

    /// Every address's blocks under a few queries.
    static func decisions(_ test: TestStore, lists: Set<ListID>) throws -> [Decision.Blocks] {
        let queries = try [
            CheckQuery(channel: .email), CheckQuery(channel: .sms), CheckQuery(channel: .email, scope: Scope(parsing: "brand/rep-1")),
            CheckQuery(channel: .email, lists: lists),
        ]
        return try addresses.flatMap { address in
            try queries.map { try test.store.decision(for: Address(parsing: address), in: test.id, query: $0).blockedBy }
        }
    }

    @Test func aRestartReadsTheSnapshotAndReplaysWhatWasWrittenAfterIt() async throws {
        let file = Self.snapshotFile()
        let first = try await TestStore(indexSnapshot: file)
        let news = try await first.store.createList(in: first.id, ListDefinition(name: "newsletter"))
        let crm = try ContactID(parsing: "crm-9")
        _ = try await first.store.link([Address(parsing: "dave@example.com")], to: crm, in: first.id)
        _ = try await first.optOut("ann@example.com")
        _ = try await first.optOut("bob@example.com", "all", scope: "brand")
        _ = try await first.optOut("carol@example.com", list: news.id)
        _ = try await first.optOut("+14155550100", "sms")
        _ = try await first.store.record(OptOut(subject: .contact(crm), channel: .all, source: .crm, actor: "t"), in: first.id)
        try await first.store.close()
        #expect(FileManager.default.fileExists(atPath: file))

        // Another process writes after the snapshot, with no snapshot of its own: an opt-out, an
        // opt-in lifting one from before, and a new link.
        let other = try await TestStore(database: first.database)
        _ = try await other.optOut("eve@example.com")
        let lifted = try await other.store.record(
            OptIn(subject: .address(Address(parsing: "ann@example.com")), channel: .only(.email), actor: "admin",
                  consent: Consent(kind: "written_consent", reference: "ticket-1"), authority: .admin),
            in: other.id)
        #expect(lifted.lifted != nil)
        _ = try await other.store.link([Address(parsing: "frank@example.com")], to: crm, in: other.id)
        try await other.store.close()

        let restarted = try await TestStore(database: first.database, indexSnapshot: file)
        #expect(restarted.indexed.restoredFromSnapshot)
        let loaded = try await TestStore(database: first.database)
        #expect(!loaded.indexed.restoredFromSnapshot)
        #expect(restarted.indexed.indexedCount == loaded.indexed.indexedCount)
        let replayed = try Self.decisions(restarted, lists: [news.id])
        #expect(replayed == (try Self.decisions(loaded, lists: [news.id])))
        #expect(try !restarted.isBlocked("ann@example.com"), "the opt-in after the snapshot was replayed")
        #expect(try restarted.isBlocked("eve@example.com"))
        #expect(try restarted.isBlocked("bob@example.com", scope: "brand"))
        #expect(try restarted.isBlocked("frank@example.com"), "the link after the snapshot was replayed")
        #expect(try restarted.check("carol@example.com", lists: [news.id]).blockedBy.first?.listName == "newsletter")
    }

    /// A snapshot may hold an address (a linked one's text): an erasure removes the file, and the
    /// next close writes one without the address.
    @Test func anErasureRemovesTheSnapshotThatHeldTheAddress() async throws {
        let file = Self.snapshotFile()
        let first = try await TestStore(indexSnapshot: file)
        _ = try await first.store.link([Address(parsing: "bob@example.com")], to: ContactID(parsing: "crm-1"), in: first.id)
        _ = try await first.optOut("bob@example.com")
        try await first.store.close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)).range(of: Data("bob@example.com".utf8)) != nil)
        let second = try await TestStore(database: first.database, indexSnapshot: file)
        #expect(second.indexed.restoredFromSnapshot)
        _ = try await second.store.erase(Address(parsing: "bob@example.com"), in: second.id)
        #expect(!FileManager.default.fileExists(atPath: file))
        try await second.store.close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)).range(of: Data("bob@example.com".utf8)) == nil)
        let third = try await TestStore(database: first.database, indexSnapshot: file)
        #expect(third.indexed.restoredFromSnapshot)
        #expect(try third.isBlocked("bob@example.com"))
    }

    /// Replaying an erasure cannot find an entry the snapshot keeps under the address itself once
    /// an opt-in between them names the address by its hash; the snapshot also holds the
    /// address. A restart after an erasure loads from the database and removes the file.
    @Test func anErasureAfterTheSnapshotMakesTheRestartLoadInstead() async throws {
        let file = Self.snapshotFile()
        let first = try await TestStore(indexSnapshot: file)
        _ = try await first.optOut("bob@example.com")
        _ = try await first.optOut("bob@example.com", scope: "brand")
        try await first.store.close()
        let other = try await TestStore(database: first.database)
        _ = try await other.store.record(
            OptIn(subject: .address(Address(parsing: "bob@example.com")), channel: .only(.email), actor: "admin",
                  consent: Consent(kind: "written_consent", reference: "ticket-2"), authority: .admin),
            in: other.id)
        _ = try await other.store.erase(Address(parsing: "bob@example.com"), in: other.id)
        try await other.store.close()
        let restarted = try await TestStore(database: first.database, indexSnapshot: file)
        #expect(!restarted.indexed.restoredFromSnapshot)
        #expect(!FileManager.default.fileExists(atPath: file))
        #expect(try !restarted.isBlocked("bob@example.com"), "the opt-in before the erasure holds")
        #expect(try restarted.isBlocked("bob@example.com", scope: "brand"))
    }

    /// A command that keeps no index (`hush erase`) removes the snapshot with its erasure.
    @Test func anErasureByACommandRemovesTheSnapshot() async throws {
        let file = Self.snapshotFile()
        let first = try await TestStore(indexSnapshot: file)
        _ = try await first.optOut("bob@example.com")
        try await first.store.close()
        let command = try await first.database.open(erasureKey: TestStore.erasureKey, clock: TestClock(), loadsIndex: false, indexSnapshot: file)
        #expect(try await command.erase(Address(parsing: "bob@example.com"), in: first.id))
        #expect(!FileManager.default.fileExists(atPath: file))
        try await command.close()
        #expect(!FileManager.default.fileExists(atPath: file), "a command writes no snapshot")
    }

    @Test func aSnapshotOfAnotherDatabaseIsIgnored() async throws {
        let file = Self.snapshotFile()
        let first = try await TestStore(indexSnapshot: file)
        _ = try await first.optOut("ann@example.com")
        try await first.store.close()
        let second = try await TestStore(indexSnapshot: file)
        #expect(!second.indexed.restoredFromSnapshot)
        #expect(try !second.isBlocked("ann@example.com"))
    }

    @Test(arguments: ["cut short", "changed"])
    func aDamagedSnapshotIsIgnored(damage: String) async throws {
        let file = Self.snapshotFile()
        let first = try await TestStore(indexSnapshot: file)
        _ = try await first.optOut("ann@example.com")
        try await first.store.close()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        if damage == "cut short" {
            bytes.removeLast(100)
        } else {
            bytes[bytes.count - 200] ^= 0x40
        }
        try bytes.write(to: URL(fileURLWithPath: file))
        let reopened = try await TestStore(database: first.database, indexSnapshot: file)
        #expect(!reopened.indexed.restoredFromSnapshot)
        #expect(try reopened.isBlocked("ann@example.com"))
    }
}
