import Foundation
import GRDB
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

@Suite(.everyBackend) struct ErasureTests {
    @Test func erasedAddressStaysSuppressed() async throws {
        let test = try await TestStore()
        _ = try await test.optOut("ann@example.com", evidence: Evidence(["raw_text": .string("stop mailing ann@example.com")]))
        #expect(try await test.store.erase(Address(parsing: "ann@example.com"), in: test.id))
        #expect(try test.isBlocked("ann@example.com"))
        #expect(try !test.isBlocked("bob@example.com"))
    }

    @Test func erasureRemovesPersonalDataFromTheDatabase() async throws {
        let test = try await TestStore()
        // Announced events hold the address too.
        _ = try await test.store.createWebhook(
            WebhookEndpoint(url: "https://example.com/hook", events: ["opt_out.created"], secrets: [.generate()]), in: test.id)
        _ = try await test.optOut("Ann@Example.com", evidence: Evidence(["raw_text": .string("stop mailing ann@example.com")]))
        _ = try await test.store.link([Address(parsing: "ann@example.com")], to: ContactID(parsing: "crm-1"), in: test.id)
        _ = try await test.store.erase(Address(parsing: "ann@example.com"), in: test.id)
        let leaks = try await test.tablesHolding("ann@example.com")
        #expect(leaks.isEmpty, "personal data left in \(leaks)")
        let events = try await test.store.events(in: test.id, after: 0, limit: 10, address: nil)
        #expect(events.count == 1)
        #expect(events[0].evidence.isEmpty)
        guard case .address(let key) = events[0].subject else { Issue.record("not an address event"); return }
        #expect(key.hasPrefix(ErasureKey.prefix))
    }

    /// A number's messages and the announcements of those waiting for review keep its hash, not
    /// the number or what it wrote.
    @Test func erasureRemovesANumbersMessages() async throws {
        let test = try await TestStore()
        _ = try await test.store.createWebhook(
            WebhookEndpoint(url: "https://example.com/hook", events: ["inbound.needs_review"], secrets: [.generate()]), in: test.id)
        _ = try await test.optOut("+14155550100", "sms")
        _ = try await test.store.recordInbound(InboundMessage(
            channel: .sms, sender: "+14155550100", recipient: "+18005551212", body: "this is Ann, please stop these",
            providerMessageID: "SM1", receivedAt: Date(timeIntervalSince1970: 1_700_000_000), result: .needsReview, keyword: nil,
            review: .pending), in: test.id)
        _ = try await test.store.logActivity(Activity(
            type: "call", address: Address(parsing: "+14155550100"), disposition: "Do Not Call", scope: .organization,
            occurredAt: test.clock.now, actor: "rep-7"), in: test.id)
        _ = try await test.store.erase(Address(parsing: "+14155550100"), in: test.id)
        let leaks = try await test.tablesHolding("4155550100", "this is Ann")
        #expect(leaks.isEmpty, "personal data left in \(leaks)")
        #expect(try test.isBlocked("+14155550100", .sms))
    }

    /// A STOP from a number linked to a contact also puts an event on the contact, with the same
    /// evidence (the number, what it wrote); erasing the number erases that evidence and the
    /// event's queued announcement too. The second number replies STOP twice, linked between:
    /// the second STOP writes only the contact's event.
    @Test func erasureRemovesTheEvidenceItsContactsEventsCarry() async throws {
        let test = try await TestStore()
        _ = try await test.store.createWebhook(
            WebhookEndpoint(url: "https://example.com/hook", events: ["opt_out.created"], secrets: [.generate()]), in: test.id)
        func stop(_ number: String) async throws -> OptOutOutcome {
            try await test.optOut(number, "sms", source: .keyword, evidence: Evidence(["from": .string(number), "text": .string("STOP this is Ann")]))
        }
        _ = try await test.store.link([Address(parsing: "+14155550100")], to: ContactID(parsing: "crm-1"), in: test.id)
        #expect(try await stop("+14155550100").events.count == 2, "the number's event and its contact's")
        #expect(try await stop("+14155550111").events.count == 1)
        _ = try await test.store.link([Address(parsing: "+14155550111")], to: ContactID(parsing: "crm-2"), in: test.id)
        #expect(try await stop("+14155550111").events.map(\.subject) == [.contact("crm-2")])
        for number in ["+14155550100", "+14155550111"] {
            _ = try await test.store.erase(Address(parsing: number), in: test.id)
        }
        let leaks = try await test.tablesHolding("41555501", "this is Ann")
        #expect(leaks.isEmpty, "personal data left in \(leaks)")
        #expect(try test.isBlocked("+14155550100", .sms))
    }

    /// Events announced anew by a replay (no endpoint listened when they were recorded) are
    /// queued under the address a contact's event came through, so an erasure finds them too.
    @Test func erasureScrubsAContactsEventsAReplayAnnounced() async throws {
        let test = try await TestStore()
        _ = try await test.store.link([Address(parsing: "+14155550100")], to: ContactID(parsing: "crm-1"), in: test.id)
        _ = try await test.optOut("+14155550100", "sms", source: .keyword, evidence: Evidence(["from": .string("+14155550100"), "text": .string("STOP this is Ann")]))
        let late = try await test.store.createWebhook(
            WebhookEndpoint(url: "https://example.com/late", events: ["opt_out.created"], secrets: [.generate()]), in: test.id)
        #expect(try await test.store.replay(late.id, from: 1, limit: 100, in: test.id).queued == 2)
        _ = try await test.store.erase(Address(parsing: "+14155550100"), in: test.id)
        #expect(try await test.tablesHolding("4155550100", "this is Ann").isEmpty)
    }

    @Test func erasedAddressStaysSuppressedAfterRestart() async throws {
        let test = try await TestStore()
        _ = try await test.optOut("ann@example.com")
        _ = try await test.store.erase(Address(parsing: "ann@example.com"), in: test.id)
        try await test.store.close()
        let reopened = try await TestStore(database: test.database)
        #expect(try reopened.isBlocked("ann@example.com"))
        #expect(try await reopened.store.suppressions(of: Address(parsing: "ann@example.com"), in: reopened.id).count == 1)
    }

    @Test func erasureDropsTheClearAddressFromAnotherProcessMemory() async throws {
        let writer = try await TestStore()
        _ = try await writer.optOut("ann@example.com")
        let reader = try await TestStore(database: writer.database)
        _ = try await writer.store.erase(Address(parsing: "ann@example.com"), in: writer.id)
        try await reader.store.catchUp()
        #expect(try reader.isBlocked("ann@example.com"))
        #expect(reader.indexed.index.entries(for: IndexKey(reader.id, "ann@example.com")).isEmpty)
        #expect(writer.indexed.index.entries(for: IndexKey(writer.id, "ann@example.com")).isEmpty)
    }

    /// Another process reads an erasure together with the ledger events after it. Those events
    /// name the erased row by its hash already, so the erasure is applied first: an opt-out made
    /// again after it stays under the address (applied after the erasure, it had merged into the
    /// old one and left with it, and lifting the old one then allowed the address).
    @Test func aFollowerAppliesAnErasureBeforeTheEventsReadWithIt() async throws {
        let writer = try await TestStore()
        _ = try await writer.optOut("ann@example.com")
        let reader = try await TestStore(database: writer.database)
        #expect(try reader.isBlocked("ann@example.com"))
        _ = try await writer.store.erase(Address(parsing: "ann@example.com"), in: writer.id)
        let again = try await writer.optOut("ann@example.com")
        try await reader.store.catchUp()
        let loaded = try await TestStore(database: writer.database)
        let clear = IndexKey(reader.id, "ann@example.com")
        #expect(reader.indexed.index.entries(for: clear).map(\.eventSequence) == loaded.indexed.index.entries(for: clear).map(\.eventSequence))
        #expect(!loaded.indexed.index.entries(for: clear).isEmpty, "\(again)")
        #expect(try reader.isBlocked("ann@example.com"))
    }

    @Test func erasedPersonCanOptBackInWithConsent() async throws {
        let test = try await TestStore()
        _ = try await test.optOut("ann@example.com")
        _ = try await test.store.erase(Address(parsing: "ann@example.com"), in: test.id)
        let outcome = try await test.store.record(
            OptIn(subject: .address(Address(parsing: "ann@example.com")), channel: .only(.email), actor: "admin",
                  consent: Consent(kind: "written_consent", reference: "ticket-3"), authority: .admin),
            in: test.id)
        #expect(outcome.lifted != nil)
        #expect(try !test.isBlocked("ann@example.com"))
    }

    /// An address erased twice brings a second row of one suppression under its one hash. The
    /// index and a replay of the ledger count them as one, so the second erasure keeps one row
    /// (the held one, else the earlier, as the index does): an opt-in then lifts the suppression
    /// whole. Two rows, and the lift of one left the other in force while the index allowed the
    /// address, until a fresh load blocked it again.
    @Test func anAddressErasedTwiceKeepsOneRowOfASuppression() async throws {
        let test = try await TestStore()
        let ann = try Address(parsing: "ann@example.com")
        let first = try await test.optOut("ann@example.com")
        _ = try await test.store.erase(ann, in: test.id)
        _ = try await test.optOut("ann@example.com")
        _ = try await test.store.erase(ann, in: test.id)
        #expect(try await test.store.suppressions(of: ann, in: test.id).map(\.eventSequence) == first.suppressions.map(\.eventSequence))

        let outcome = try await test.store.record(
            OptIn(subject: .address(ann), channel: .only(.email), actor: "admin",
                  consent: Consent(kind: "written_consent", reference: "ticket-4"), authority: .admin),
            in: test.id)
        #expect(outcome.lifted != nil)
        #expect(try !test.isBlocked("ann@example.com"))
        #expect(try await test.store.suppressions(of: ann, in: test.id).isEmpty)
        #expect(try await !TestStore(database: test.database).isBlocked("ann@example.com"))
        #expect(try await test.store.suppressionCounts(in: test.id).allSatisfy { $0.suppressions == 0 })
    }

    /// Of the two rows, a held one is kept over an earlier one that is not held.
    @Test func anAddressErasedTwiceKeepsTheHeldRow() async throws {
        let test = try await TestStore()
        let ann = try Address(parsing: "ann@example.com")
        _ = try await test.optOut("ann@example.com")
        _ = try await test.store.erase(ann, in: test.id)
        let held = try await test.store.record(
            OptOut(subject: .address(ann), channel: .only(.email), source: .rep, actor: "rep-1", hold: true), in: test.id)
        _ = try await test.store.erase(ann, in: test.id)
        let rows = try await test.store.suppressions(of: ann, in: test.id)
        #expect(rows.map(\.eventSequence) == held.suppressions.map(\.eventSequence))
        #expect(rows.map(\.hold) == [true])
        #expect(try await test.store.suppressionCounts(in: test.id).map(\.suppressions) == [1])
    }

    /// Two rows an erasure left before it kept one (SQLite v15, PostgreSQL v7) are merged when the
    /// database is next opened, the console's counters with them.
    @Test func aMigrationMergesRowsAnEarlierErasureLeft() async throws {
        let test = try await TestStore()
        let ann = try Address(parsing: "ann@example.com")
        let first = try await test.optOut("ann@example.com")
        _ = try await test.store.erase(ann, in: test.id)
        let again = try await test.optOut("ann@example.com")
        _ = try await test.store.erase(ann, in: test.id)
        // The second row back, under the second erased address row, and the migration not yet run.
        _ = try await test.sql("""
            INSERT INTO suppressions (org_id, address_id, subject_key, channel, list_id, scope, since, source, event_seq, hold)
            SELECT s.org_id, a.id, s.subject_key, s.channel, s.list_id, s.scope, s.since, s.source, \(again.events[0].sequence), s.hold
            FROM suppressions s JOIN addresses a ON a.key = s.subject_key AND a.id <> s.address_id
            """)
        #expect(try await test.store.suppressions(of: ann, in: test.id).count == 2)
        let forget = switch Backend.current {
        case .sqlite: "DELETE FROM grdb_migrations WHERE identifier LIKE 'v15:%'"
        case .postgres: "DELETE FROM hush_migrations WHERE name LIKE 'v7:%'"
        }
        _ = try await test.sql(forget)
        try await test.store.close()

        let reopened = try await TestStore(database: test.database)
        #expect(try await reopened.store.suppressions(of: ann, in: reopened.id).map(\.eventSequence) == first.suppressions.map(\.eventSequence))
        #expect(try await reopened.store.suppressionCounts(in: reopened.id).map(\.suppressions) == [1])
        _ = try await reopened.store.record(
            OptIn(subject: .address(ann), channel: .only(.email), actor: "admin",
                  consent: Consent(kind: "written_consent", reference: "ticket-5"), authority: .admin),
            in: reopened.id)
        #expect(try await !TestStore(database: test.database).isBlocked("ann@example.com"))
    }

    /// Contact events written before their evidence named the address they came through: the
    /// migration (SQLite v17, PostgreSQL v9) names it, and scrubs what erasures before it left.
    @Test func theMigrationFindsTheAddressContactEventsCameThrough() async throws {
        let test = try await TestStore()
        _ = try await test.store.createWebhook(
            WebhookEndpoint(url: "https://example.com/hook", events: ["opt_out.created"], secrets: [.generate()]), in: test.id)
        func stop(_ number: String) async throws {
            _ = try await test.optOut(number, "sms", source: .keyword, evidence: Evidence(["from": .string(number), "text": .string("STOP this is Ann")]))
        }
        for (number, contact) in [("+14155550100", "crm-1"), ("+14155550122", "crm-3")] {
            _ = try await test.store.link([Address(parsing: number)], to: ContactID(parsing: contact), in: test.id)
            try await stop(number)
        }
        // Stopped before it was linked, and again after: the second STOP wrote the contact's event only.
        try await stop("+14155550133")
        _ = try await test.store.link([Address(parsing: "+14155550133")], to: ContactID(parsing: "crm-4"), in: test.id)
        test.clock.advance(by: 1)
        try await stop("+14155550133")
        // As written before: nothing names the address, so an erasure leaves the contact's event.
        _ = try await test.sql("UPDATE evidence SET via_address_id = NULL")
        _ = try await test.sql("UPDATE webhook_outbox SET address_id = NULL WHERE ledger_seq IN (SELECT seq FROM ledger WHERE contact_id IS NOT NULL)")
        _ = try await test.store.erase(Address(parsing: "+14155550100"), in: test.id)
        #expect(try await test.sql("SELECT json FROM evidence").count == 5, "the erased number's contact event kept it, beside the others' four")
        switch Backend.current {
        case .sqlite:
            _ = try await test.sql("DROP INDEX evidence_via")
            _ = try await test.sql("ALTER TABLE evidence DROP COLUMN via_address_id")
            _ = try await test.sql("DELETE FROM grdb_migrations WHERE identifier LIKE 'v17:%'")
        case .postgres:
            _ = try await test.sql("ALTER TABLE evidence DROP COLUMN via_address_id")
            _ = try await test.sql("DELETE FROM hush_migrations WHERE name LIKE 'v9:%'")
        }
        try await test.store.close()

        let reopened = try await TestStore(database: test.database)
        #expect(try await reopened.tablesHolding("4155550100").isEmpty)
        #expect(try await !reopened.tablesHolding("4155550122").isEmpty)
        _ = try await reopened.store.erase(Address(parsing: "+14155550122"), in: reopened.id)
        _ = try await reopened.store.erase(Address(parsing: "+14155550133"), in: reopened.id)
        #expect(try await reopened.tablesHolding("4155550122").isEmpty)
        #expect(try await reopened.tablesHolding("4155550133").isEmpty)
        #expect(try await reopened.tablesHolding("this is Ann").isEmpty)
    }

    @Test func erasingAnUnknownAddressReportsNothingErased() async throws {
        let test = try await TestStore()
        #expect(try await !test.store.erase(Address(parsing: "nobody@example.com"), in: test.id))
    }
}
