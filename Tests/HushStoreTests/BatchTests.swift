import Foundation
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

/// Opt-outs are written set-wise, up to 500 rows per statement: these cover what that must keep.
@Suite(.everyBackend) struct BatchTests {
    private func optOut(_ address: String, scope: String = "", evidence: Evidence = Evidence()) throws -> OptOut {
        OptOut(
            subject: .address(try Address(parsing: address)), channel: .only(.email), scope: try Scope(parsing: scope),
            actor: "test", evidence: evidence)
    }

    @Test func sameAddressTwiceInOneBatchIsWrittenOnce() async throws {
        let test = try await TestStore()
        let outcomes = try await test.store.record(
            [try optOut("ann@example.com"), try optOut(" ANN@example.com "), try optOut("bob@example.com")], in: test.id)
        #expect(outcomes.map(\.events.count) == [1, 0, 1])
        #expect(outcomes[1].suppressions == outcomes[0].suppressions)
        #expect(outcomes[1].alreadyInForce)
        let events = try await test.store.events(in: test.id, after: 0, limit: 10, address: nil)
        #expect(events.map(\.sequence) == [1, 2])
    }

    @Test func batchOverlappingHeldSuppressionsWritesOnlyTheNewOnesWithDenseSequences() async throws {
        let test = try await TestStore()
        let held = try await test.optOut("held@example.com", scope: "brand")
        let outcomes = try await test.store.record(
            [try optOut("new1@example.com"), try optOut("held@example.com", scope: "brand"), try optOut("new2@example.com"),
             try optOut("held@example.com", scope: "brand/alice")],
            in: test.id)
        #expect(outcomes.map(\.events.count) == [1, 0, 1, 1])
        #expect(outcomes[1].suppressions == held.suppressions)
        let events = try await test.store.events(in: test.id, after: 0, limit: 10, address: nil)
        #expect(events.map(\.sequence) == [1, 2, 3, 4])
        #expect(events.map(\.scope.path) == ["brand", "", "", "brand/alice"])
    }

    @Test func aHeldOptOutAfterAPlainOneForTheSameKeyInOneBatchLeavesTheHeldOneInForce() async throws {
        let test = try await TestStore()
        var held = try optOut("ann@example.com")
        held.hold = true
        let outcomes = try await test.store.record([try optOut("ann@example.com"), held], in: test.id)
        #expect(outcomes.map(\.events.count) == [1, 1], "both are in the ledger")
        let inForce = try await test.store.suppressions(of: try Address(parsing: "ann@example.com"), in: test.id)
        #expect(inForce.map(\.hold) == [true], "one suppression, the held one")
        #expect(inForce.first?.eventSequence == 2)
        let decision = test.store.decision(for: try Address(parsing: "ann@example.com"), in: test.id, query: CheckQuery(channel: .email))
        #expect(decision.blockedBy.map(\.hold) == [true], "\(decision.blockedBy)")
    }

    @Test func batchLongerThanOneStatementKeepsEveryItemInOrder() async throws {
        let test = try await TestStore()
        // 1 203 items: two full statements of 500 and a remainder, with a repeat every 100th.
        let batch = try (0..<1_203).map { i in try optOut("u\(i % 100 == 99 ? i - 1 : i)@example.com") }
        let outcomes = try await test.store.record(batch, in: test.id)
        #expect(outcomes.count == 1_203)
        #expect(outcomes.filter(\.alreadyInForce).count == 12)
        #expect(test.store.indexedCount == 1_191)
        for (i, outcome) in outcomes.enumerated() {
            #expect(outcome.suppressions.map(\.subject) == [.address(i % 100 == 99 ? "u\(i - 1)@example.com" : "u\(i)@example.com")])
        }
        let events = try await test.store.events(in: test.id, after: 0, limit: 2_000, address: nil)
        #expect(events.map(\.sequence) == Array(1...1_191))

        // The same batch again writes nothing.
        let again = try await test.store.record(batch, in: test.id)
        #expect(again.allSatisfy { $0.alreadyInForce })
        #expect(try await test.store.events(in: test.id, after: 0, limit: 2_000, address: nil).count == 1_191)
    }

    @Test func valuesThatNeedEscapingArriveIntact() async throws {
        let test = try await TestStore()
        let evidence = Evidence(["raw_text": .string("\"stop\" \\ now\n🙏"), "ip": .string("")])
        _ = try await test.store.record([try optOut("o'brien@example.com", evidence: evidence)], in: test.id)
        let reopened = try await TestStore(database: test.database)
        let events = try await reopened.store.events(in: reopened.id, after: 0, limit: 10, address: nil)
        #expect(events.first?.evidence == evidence)
        #expect(events.first?.subject == .address("o'brien@example.com"))
        #expect(try reopened.isBlocked("o'brien@example.com"))
    }

    @Test func failedRequestInAGroupLeavesTheOthersWritten() async throws {
        let test = try await TestStore()
        let goodBatch = [try optOut("a@example.com"), try optOut("b@example.com")]
        let badBatch = [
            try optOut("c@example.com"),
            OptOut(subject: .address(try Address(parsing: "+14155550100")), channel: .only(.email), actor: "test"),
        ]
        // Started together, the two requests usually share one transaction.
        let good = Task { try await test.store.record(goodBatch, in: test.id) }
        let bad = Task { try await test.store.record(badBatch, in: test.id) }
        #expect(try await good.value.count == 2)
        let failure = await bad.result
        #expect(throws: HushError.self) { try failure.get() }
        #expect(try test.isBlocked("a@example.com"))
        #expect(try !test.isBlocked("c@example.com"))
        let events = try await test.store.events(in: test.id, after: 0, limit: 10, address: nil)
        #expect(events.map(\.sequence) == [1, 2])
    }
}
