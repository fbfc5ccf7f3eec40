import Foundation
import HushCore
import HushTestSupport
import Synchronization
import Testing
@testable import HushStore

/// One address's history must not freeze the server: it holds at most 1 000 suppressions, and
/// writes and point-in-time checks stay linear in it.
@Suite(.everyBackend) struct LimitsTests {
    private func optOuts(_ address: String, scopes: Range<Int>) throws -> [OptOut] {
        let parsed = try Address(parsing: address)
        return try scopes.map { index in
            OptOut(subject: .address(parsed), channel: .only(.email), scope: try Scope(parsing: "client-\(index)"), actor: "test")
        }
    }

    @Test func anAddressHoldsAtMostAThousandSuppressionsAndAWriteBeyondIsRefusedWhole() async throws {
        let test = try await TestStore()
        _ = try await test.store.record(try optOuts("ann@example.com", scopes: 0..<999), in: test.id)
        let before = try await test.store.events(in: test.id, after: 0, limit: 5_000, address: nil).count
        let batch = try optOuts("bob@example.com", scopes: 0..<3) + optOuts("ann@example.com", scopes: 999..<1_001)
        let error = await #expect(throws: HushError.self) { try await test.store.record(batch, in: test.id) }
        #expect(error?.code == .limitExceeded)
        #expect(error?.field == "items[3].address")
        #expect(try await test.store.events(in: test.id, after: 0, limit: 5_000, address: nil).count == before, "nothing half-applied")
        #expect(try await test.store.record(try optOuts("ann@example.com", scopes: 999..<1_000), in: test.id)[0].events.count == 1)
        #expect(try await test.store.suppressions(of: try Address(parsing: "ann@example.com"), in: test.id).count == 1_000)
    }

    @Test func aNewAddressGivenMoreThanAThousandInOneBatchIsRefusedWhole() async throws {
        let test = try await TestStore()
        let batch = try optOuts("bob@example.com", scopes: 0..<2) + optOuts("cy@example.com", scopes: 0..<1_001)
        let error = await #expect(throws: HushError.self) { try await test.store.record(batch, in: test.id) }
        #expect(error?.code == .limitExceeded)
        #expect(error?.field == "items[2].address")
        #expect(try await test.store.events(in: test.id, after: 0, limit: 5_000, address: nil).isEmpty, "nothing half-applied")
        #expect(try await test.store.suppressions(of: try Address(parsing: "bob@example.com"), in: test.id).isEmpty)
        let written = try await test.store.record(try optOuts("cy@example.com", scopes: 0..<1_000), in: test.id)
        #expect(written.allSatisfy { $0.events.count == 1 } && written.count == 1_000)
    }

    @Test func requestsThatPassTheLimitOnlyTogetherAreRefusedOneByOne() async throws {
        let test = try await TestStore()
        _ = try await test.store.record(try optOuts("ann@example.com", scopes: 0..<900), in: test.id)
        // Started together, the two usually share a transaction. The first fits alone, the
        // second fits neither alone nor after it: only the second is refused.
        let first = Task { try await test.store.record(try optOuts("ann@example.com", scopes: 900..<950), in: test.id) }
        let second = Task { try await test.store.record(try optOuts("ann@example.com", scopes: 950..<1_100), in: test.id) }
        #expect(try await first.value.count == 50, "the first fits alone")
        await #expect(throws: HushError.self) { try await second.value }
        #expect(try await test.store.suppressions(of: try Address(parsing: "ann@example.com"), in: test.id).count == 950)
    }

    @Test func aPointInTimeCheckReplaysAThousandOptOutsAndOptInsInOrder() async throws {
        let test = try await TestStore()
        let ann = try Address(parsing: "ann@example.com")
        _ = try await test.store.record(try optOuts("ann@example.com", scopes: 0..<500), in: test.id)
        let consent = try Consent(kind: "written_consent", reference: "t")
        let optIns = try (0..<250).map { index in
            OptIn(subject: .address(ann), channel: .only(.email), scope: try Scope(parsing: "client-\(index)"), actor: "admin",
                  consent: consent, authority: .admin)
        }
        _ = try await test.store.record(optIns, in: test.id)
        test.clock.advance(by: 1)
        let now = test.clock.now
        for index in [0, 249, 250, 499] {
            let query = CheckQuery(channel: .email, scope: try Scope(parsing: "client-\(index)"))
            let past = try await test.store.decision(for: ann, in: test.id, query: query, asOf: now)
            #expect(past.blockedBy == test.store.decision(for: ann, in: test.id, query: query).blockedBy)
            #expect(past.allowed == (index < 250))
        }
    }

    @Test func thePersonsOwnOptOutIsRecordedEvenPastTheLimit() async throws {
        let test = try await TestStore()
        _ = try await test.store.record(try optOuts("ann@example.com", scopes: 0..<1_000), in: test.id)
        let stop = OptOut(subject: .address(try Address(parsing: "ann@example.com")), channel: .only(.email), source: .oneClick, actor: "link:x")
        #expect(try await test.store.record(stop, in: test.id).events.count == 1, "a member filling the address cannot keep the person out")
        let more = try optOuts("ann@example.com", scopes: 2_000..<2_001)
        await #expect(throws: HushError.self) { try await test.store.record(more, in: test.id) }
    }

    /// The index numbers scopes and cannot number more than it has room for: past the room kept
    /// for writes, an opt-out or import at a new scope is refused (nothing written), while
    /// scopes in use take more.
    @Test func writesBeyondTheRoomForScopesAreRefusedWhole() async throws {
        let test = try await TestStore()
        _ = try await test.store.record(try optOuts("ann@example.com", scopes: 0..<2), in: test.id)
        test.indexed.index.scopes.limitWrites(to: test.indexed.index.scopes.all.count)
        let before = try await test.store.events(in: test.id, after: 0, limit: 100, address: nil).count
        let error = await #expect(throws: HushError.self) {
            try await test.store.record(try optOuts("bob@example.com", scopes: 1..<3), in: test.id)
        }
        #expect(error?.code == .limitExceeded)
        #expect(error?.field == "scope")
        let imported = await #expect(throws: HushError.self) {
            let rows = Mutex(Optional(try optOuts("cy@example.com", scopes: 0..<3)))
            _ = try await test.store.importOptOuts(in: test.id) { rows.withLock { rows in defer { rows = nil }; return rows } }
        }
        #expect(imported?.field == "items[2].scope")
        #expect(try await test.store.events(in: test.id, after: 0, limit: 100, address: nil).count == before, "nothing written")
        #expect(try await test.store.record(try optOuts("bob@example.com", scopes: 0..<2), in: test.id).count == 2, "scopes in use")
    }
}
