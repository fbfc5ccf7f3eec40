import Foundation
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

/// Large batches written at once, some of their addresses shared: on PostgreSQL each is a
/// transaction of its own whose address rows are made before the append lock, so they overlap.
@Suite(.everyBackend) struct LargeBatchTests {
    static func optOuts(_ addresses: [String]) throws -> [OptOut] {
        try addresses.map { OptOut(subject: .address(try Address(parsing: $0)), channel: .only(.email), source: .api, actor: "test") }
    }

    @Test func concurrentLargeBatchesSharingAddressesAreEachWrittenOnce() async throws {
        let test = try await TestStore()
        let writers = 4
        let shared = (0..<400).map { "shared\($0)@example.com" }
        let batches = try (0..<writers).map { w in
            // Each batch has addresses of its own and the shared ones, in its own order.
            try Self.optOuts((0..<1_100).map { "w\(w)-\($0)@example.com" } + (w.isMultiple(of: 2) ? shared : shared.reversed()))
        }
        let outcomes = try await withThrowingTaskGroup(of: [OptOutOutcome].self) { group in
            for batch in batches { group.addTask { try await test.store.record(batch, in: test.id) } }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(outcomes.count == writers * 1_500)
        let events = outcomes.flatMap(\.events)
        #expect(events.count == writers * 1_100 + shared.count, "each shared address was suppressed once")
        #expect(Set(events.map(\.sequence)).count == events.count)
        #expect(test.store.indexedCount == writers * 1_100 + shared.count)
        for address in ["w0-0@example.com", "w3-1099@example.com", "shared0@example.com", "shared399@example.com"] {
            #expect(try test.isBlocked(address), "\(address)")
        }
        let rows = try await test.sql("SELECT COUNT(*) FROM suppressions")
        #expect(rows.first?.first == "\(writers * 1_100 + shared.count)")
    }
}

/// The address rows a large batch made or found before the append lock, used once the lock is
/// held: rows someone named since are not new, and an erasure since makes the batch read them again.
@Suite(
    .enabled(if: PostgresServer.url != nil, "HUSH_TEST_POSTGRES_URL is not set: the PostgreSQL runs were skipped"),
    .postgresOnly)
struct PreparedAddressesTests {
    @Test func aRowMadeBeforeTheLockThatAnotherWriteSuppressedMeanwhileIsNotNewAnyMore() async throws {
        let test = try await TestStore()
        let store = try #require(test.store as? PostgresStore)
        let batch = try LargeBatchTests.optOuts((0..<1_000).map { "p\($0)@example.com" })
        let prepared = try #require(try await store.addressRows(of: batch, in: test.id))
        #expect(prepared.made.count == 1_000)
        let ahead = try await Self.ahead(batch, store, test, prepared: prepared)
        // Another writer suppresses one of those rows between the batch's two transactions.
        _ = try await test.optOut("p7@example.com")
        let outcomes = try await store.record(batch, in: test.id, now: test.clock.now, prepared: prepared, ahead: ahead)
        #expect(outcomes[7].alreadyInForce, "the opt-out already in force is kept, not written twice")
        #expect(outcomes.filter { !$0.alreadyInForce }.count == 999)
        let rows = try await test.sql("SELECT COUNT(*) FROM suppressions")
        #expect(rows.first?.first == "1000")
        let actors = try await test.sql("SELECT actor, COUNT(*) FROM ledger GROUP BY actor ORDER BY actor")
        #expect(actors == [["test", "1000"]], "what was worked out ahead was not used")
    }

    @Test func anErasureBetweenTheTwoTransactionsMakesTheBatchReadItsRowsAgain() async throws {
        let test = try await TestStore()
        let store = try #require(test.store as? PostgresStore)
        _ = try await test.optOut("gone@example.com")
        let batch = try LargeBatchTests.optOuts(["gone@example.com"] + (0..<1_000).map { "q\($0)@example.com" })
        let prepared = try #require(try await store.addressRows(of: batch, in: test.id))
        #expect(try await store.erase(Address(parsing: "gone@example.com"), in: test.id))
        let outcomes = try await store.record(batch, in: test.id, now: test.clock.now, prepared: prepared)
        #expect(!outcomes[0].alreadyInForce, "the opt-out after the erasure is new, on a new row")
        #expect(try test.isBlocked("gone@example.com"))
        let live = try await test.sql("SELECT COUNT(*) FROM addresses WHERE erased_at IS NULL AND key = 'gone@example.com'")
        #expect(live.first?.first == "1")
        let named = try await test.sql("""
            SELECT COUNT(*) FROM suppressions s JOIN addresses a ON a.id = s.address_id
            WHERE a.erased_at IS NULL AND a.key = 'gone@example.com'
            """)
        #expect(named.first?.first == "1", "the suppression is on the live row, not the erased one")
    }

    /// What a batch of new addresses writes, worked out before the lock with the actor "ahead"
    /// (the request says "request"), so a test sees which of the two was written.
    static func ahead(
        _ batch: [OptOut], _ store: PostgresStore, _ test: TestStore, prepared: PreparedAddresses
    ) async throws -> WrittenAhead? {
        let organization = try #require(try await store.organization(test.id))
        var lists: [ListID: ListFacts] = [:]
        for list in try await store.lists(in: test.id) where list.isDefault {
            lists[list.id] = ListFacts(id: list.id, isDefault: true, name: list.definition.name, channels: list.definition.channels)
        }
        let plans = try batch.map { optOut in
            let ahead = OptOut(subject: optOut.subject, channel: optOut.channel, source: optOut.source, actor: "ahead")
            return try ChangeRules.plan(ahead, in: organization, list: lists[organization.defaultList])
        }
        return try WrittenAhead(plans, organization: organization, lists: lists, prepared: prepared, now: StoredCoding.milliseconds(test.clock.now))
    }

    /// 1 000 new addresses named `<prefix>N@example.com`, their rows made and their writes
    /// worked out ahead.
    static func newBatchWorkedOutAhead(
        _ prefix: String
    ) async throws -> (TestStore, PostgresStore, [OptOut], PreparedAddresses, WrittenAhead) {
        let test = try await TestStore()
        let store = try #require(test.store as? PostgresStore)
        let batch = try LargeBatchTests.optOuts((0..<1_000).map { "\(prefix)\($0)@example.com" })
        let prepared = try #require(try await store.addressRows(of: batch, in: test.id))
        let ahead = try #require(try await ahead(batch, store, test, prepared: prepared))
        return (test, store, batch, prepared, ahead)
    }

    @Test func writesWorkedOutBeforeTheLockAreWrittenAtTheirPlaceInTheLedger() async throws {
        let (test, store, batch, prepared, ahead) = try await Self.newBatchWorkedOutAhead("r")
        // Another write takes the position the batch was worked out at: its rows move up one.
        let between = try await test.optOut("between@example.com")
        let outcomes = try await store.record(batch, in: test.id, now: test.clock.now, prepared: prepared, ahead: ahead)
        let sequences = outcomes.flatMap(\.events).map(\.sequence)
        #expect(sequences == Array((between.events[0].sequence + 1)...(between.events[0].sequence + 1_000)))
        #expect(outcomes.flatMap(\.suppressions).map(\.eventSequence) == sequences)
        let rows = try await test.sql("SELECT actor, COUNT(*), MIN(seq), MAX(seq) FROM ledger GROUP BY actor ORDER BY actor")
        #expect(rows.first == ["ahead", "1000", "\(sequences[0])", "\(sequences[999])"], "the rows worked out ahead were written")
        let projected = try await test.sql("SELECT MIN(event_seq), MAX(event_seq) FROM suppressions WHERE source = 'api' AND event_seq > \(between.events[0].sequence)")
        #expect(projected.first == ["\(sequences[0])", "\(sequences[999])"])
        #expect(try test.isBlocked("r999@example.com"))
        #expect(test.indexed.indexedCount == 1_001)
        let entry = try test.check("r0@example.com")
        #expect(entry.blockedBy.first?.eventSequence == sequences[0], "the index has the moved positions")
    }

    @Test func settingsChangedBeforeTheLockMakeTheBatchWorkedOutAgain() async throws {
        let (test, store, batch, prepared, ahead) = try await Self.newBatchWorkedOutAhead("s")
        _ = try await store.updateSettings(of: test.id) { $0.granularOptOuts.toggle() }
        _ = try await store.record(batch, in: test.id, now: test.clock.now, prepared: prepared, ahead: ahead)
        let rows = try await test.sql("SELECT actor, COUNT(*) FROM ledger GROUP BY actor ORDER BY actor")
        #expect(rows == [["test", "1000"]], "the batch was worked out again from the request")
    }

    @Test func aBatchNamingAListAnotherNodeJustMadeIsWrittenThoughTheDirectoryDoesNotKnowIt() async throws {
        let test = try await TestStore()
        _ = try await test.store.lists(in: test.id)  // the directory holds the lists as they were
        let other = try await test.database.open(erasureKey: TestStore.erasureKey, clock: TestClock())
        var definition = try ListDefinition(name: "fresh")
        definition.channels = [.email]
        let fresh = try await other.createList(in: test.id, definition)
        let batch = try (0..<1_000).map { i in
            OptOut(subject: .address(try Address(parsing: "f\(i)@example.com")), channel: .only(.email), list: fresh.id, actor: "test")
        }
        let outcomes = try await test.store.record(batch, in: test.id)
        #expect(outcomes.allSatisfy { !$0.alreadyInForce })
        #expect(try test.isBlocked("f999@example.com", lists: [fresh.id]))
    }

    @Test func makingRowsBeforeTheLockGivesUpRatherThanWaitForARowAnotherTransactionHolds() async throws {
        let test = try await TestStore()
        let store = try #require(test.store as? PostgresStore)
        let batch = try LargeBatchTests.optOuts((0..<1_000).map { "h\($0)@example.com" })
        try await store.client.withConnection { connection in
            // A transaction (an import, a link) has made one of the rows and not committed.
            try await connection.query("BEGIN", logger: store.logger)
            try await connection.query(
                "INSERT INTO addresses (org_id, kind, key, display) VALUES (\(test.id.rawValue), 'email', 'h500@example.com', 'h500@example.com')",
                logger: store.logger)
            let prepared = try await store.addressRows(of: batch, in: test.id)
            #expect(prepared == nil)
            try await connection.query("ROLLBACK", logger: store.logger)
        }
        let outcomes = try await store.record(batch, in: test.id)
        #expect(outcomes.allSatisfy { !$0.alreadyInForce })
        #expect(try test.isBlocked("h500@example.com"))
    }
}
