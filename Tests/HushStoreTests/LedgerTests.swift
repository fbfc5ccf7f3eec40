import Foundation
import GRDB
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

@Suite(.everyBackend) struct LedgerTests {
    @Test func repeatedOptOutWritesNothingNew() async throws {
        let test = try await TestStore()
        let first = try await test.optOut("ann@example.com")
        let second = try await test.optOut("ANN@example.com ")
        #expect(!first.alreadyInForce)
        #expect(second.alreadyInForce)
        #expect(second.suppressions == first.suppressions)
        #expect(try await test.store.events(in: test.id, after: 0, limit: 10, address: nil).count == 1)
        #expect(try await test.store.suppressions(of: Address(parsing: "ann@example.com"), in: test.id).count == 1)
        #expect(test.store.indexedCount == 1)
    }

    @Test func optInWithoutEvidenceIsRefused() async throws {
        #expect(throws: HushError.self) { try Consent(kind: "written_consent", reference: "  ") }
        #expect(throws: HushError.self) { try Consent(kind: "", reference: "ticket-1") }
    }

    @Test func optInLiftsExactlyTheSuppressionItNames() async throws {
        let test = try await TestStore()
        let address = try Address(parsing: "ann@example.com")
        _ = try await test.optOut("ann@example.com", scope: "")
        _ = try await test.optOut("ann@example.com", scope: "brand")
        let outcome = try await test.store.record(
            OptIn(subject: .address(address), channel: .only(.email), scope: Scope(parsing: "brand"), actor: "admin",
                  consent: Consent(kind: "written_consent", reference: "ticket-7"), authority: .admin),
            in: test.id)
        #expect(outcome.lifted?.scope.path == "brand")
        #expect(outcome.event?.evidence.fields["reference"] == .string("ticket-7"))
        let remaining = try await test.store.suppressions(of: address, in: test.id)
        #expect(remaining.map(\.scope.path) == [""])
        #expect(try test.isBlocked("ann@example.com", scope: "brand"))
    }

    @Test func optInThatMatchesNothingWritesNothing() async throws {
        let test = try await TestStore()
        _ = try await test.optOut("ann@example.com", "email")
        let outcome = try await test.store.record(
            OptIn(subject: .address(Address(parsing: "ann@example.com")), channel: .all, actor: "admin",
                  consent: Consent(kind: "written_consent", reference: "ticket-7"), authority: .admin),
            in: test.id)
        #expect(outcome.lifted == nil)
        #expect(try test.isBlocked("ann@example.com"))
        #expect(try await test.store.events(in: test.id, after: 0, limit: 10, address: nil).count == 1)
    }

    @Test func ledgerRefusesUpdatesAndDeletes() async throws {
        let test = try await TestStore()
        _ = try await test.optOut("ann@example.com")
        await #expect(throws: (any Error).self) { try await test.sql("UPDATE ledger SET actor = 'someone else'") }
        await #expect(throws: (any Error).self) { try await test.sql("DELETE FROM ledger") }
        #expect(try await test.sql("SELECT actor FROM ledger") == [["test"]])
    }

    @Test func eventsKeepTheirEvidenceAndOrder() async throws {
        let test = try await TestStore()
        _ = try await test.optOut("ann@example.com", evidence: Evidence(["raw_text": .string("unsubscribe me")]))
        _ = try await test.optOut("bob@example.com")
        let events = try await test.store.events(in: test.id, after: 0, limit: 10, address: nil)
        #expect(events.map(\.subject) == [.address("ann@example.com"), .address("bob@example.com")])
        #expect(events[0].evidence.fields["raw_text"] == .string("unsubscribe me"))
        #expect(events[1].sequence > events[0].sequence)
        let onlyBob = try await test.store.events(in: test.id, after: 0, limit: 10, address: Address(parsing: "bob@example.com"))
        #expect(onlyBob.map(\.subject) == [.address("bob@example.com")])
        #expect(try await test.store.events(in: test.id, after: events[0].sequence, limit: 10, address: nil).count == 1)
    }

    @Test func batchIsAllOrNothing() async throws {
        let test = try await TestStore()
        let batch = try [
            OptOut(subject: .address(Address(parsing: "ann@example.com")), channel: .only(.email), actor: "test"),
            OptOut(subject: .address(Address(parsing: "+14155550100")), channel: .only(.email), actor: "test"),
        ]
        await #expect {
            try await test.store.record(batch, in: test.id)
        } throws: { error in
            (error as? HushError)?.field == "items[1].channel"
        }
        #expect(try !test.isBlocked("ann@example.com"))
        #expect(try await test.store.events(in: test.id, after: 0, limit: 10, address: nil).isEmpty)
    }

    @Test func batchRecordsEveryItem() async throws {
        let test = try await TestStore()
        let batch = try (0..<500).map {
            OptOut(subject: .address(try Address(parsing: "user\($0)@example.com")), channel: .only(.email), actor: "test")
        }
        let outcomes = try await test.store.record(batch, in: test.id)
        #expect(outcomes.allSatisfy { !$0.alreadyInForce })
        #expect(test.store.indexedCount == 500)
        #expect(try test.isBlocked("user499@example.com"))
    }

    @Test func phoneOptOutOnEmailChannelIsRejected() async throws {
        let test = try await TestStore()
        await #expect {
            try await test.optOut("+14155550100", "email")
        } throws: { error in
            (error as? HushError)?.field == "channel"
        }
    }

    @Test func pointInTimeDecisionReplaysTheLedger() async throws {
        let test = try await TestStore()
        let before = test.clock.now
        test.clock.advance(by: 60)
        _ = try await test.optOut("ann@example.com")
        test.clock.advance(by: 60)
        let during = test.clock.now
        test.clock.advance(by: 60)
        _ = try await test.store.record(
            OptIn(subject: .address(Address(parsing: "ann@example.com")), channel: .only(.email), actor: "admin",
                  consent: Consent(kind: "written_consent", reference: "ticket-9"), authority: .admin),
            in: test.id)
        test.clock.advance(by: 60)
        let query = CheckQuery(channel: .email)
        let address = try Address(parsing: "ann@example.com")
        #expect(try await test.store.decision(for: address, in: test.id, query: query, asOf: before).allowed)
        #expect(try await !test.store.decision(for: address, in: test.id, query: query, asOf: during).allowed)
        #expect(try await test.store.decision(for: address, in: test.id, query: query, asOf: test.clock.now).allowed)
        #expect(try test.check("ann@example.com").allowed)
    }
}
