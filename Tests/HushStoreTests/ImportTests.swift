import Dispatch
import Foundation
import HushCore
import HushTestSupport
import Synchronization
import Testing
@testable import HushStore

/// `importOptOuts` stages its chunks, then commits them in one transaction.
@Suite(.everyBackend) struct ImportTests {
    private func optOuts(_ addresses: Range<Int>) throws -> [OptOut] {
        try addresses.map {
            OptOut(subject: .address(try Address(parsing: "import\($0)@example.com")), channel: .only(.email), source: .import, actor: "t")
        }
    }

    /// An address erased after the import made its row (between chunks) is opted out on a live
    /// row, as an import after the erasure would: the retired row gets nothing.
    @Test func anErasureBetweenStagingAndCommitRetiresNoImportedRow() async throws {
        let test = try await TestStore()
        let store = test.store
        let organization = test.id
        let erased = try Address(parsing: "import3@example.com")
        let chunks = Mutex(try [optOuts(0..<10), optOuts(10..<20), optOuts(20..<30)])
        let calls = Mutex(0)
        let summary = try await store.importOptOuts(in: organization) {
            let call = calls.withLock { $0 += 1; return $0 }
            if call == 3 {
                // The first chunk is staged (its rows made) before the third is asked for.
                let done = DispatchSemaphore(value: 0)
                Task.detached {
                    _ = try? await store.erase(erased, in: organization)
                    done.signal()
                }
                done.wait()
            }
            return chunks.withLock { $0.isEmpty ? nil : $0.removeFirst() }
        }
        #expect(summary == ImportSummary(items: 30, written: 30, alreadyInForce: 0))
        let retired = try await test.sql("""
            SELECT COUNT(*) FROM suppressions s JOIN addresses a ON a.id = s.address_id WHERE a.erased_at IS NOT NULL
            """)
        #expect(retired.first?.first == "0", "no imported suppression on an erased row")
        let live = try await test.sql("""
            SELECT COUNT(*) FROM suppressions s JOIN addresses a ON a.id = s.address_id
            WHERE a.erased_at IS NULL AND a.key = 'import3@example.com'
            """)
        #expect(live.first?.first == "1")
        #expect(try test.isBlocked("import3@example.com"))
    }

    /// An import announces each opt-out it wrote when a webhook listens, in ledger order, past
    /// the commit's page of 2 000 events, and nothing for those already in force.
    @Test func anImportAnnouncesWhatItWrote() async throws {
        let test = try await TestStore()
        _ = try await test.store.createWebhook(
            WebhookEndpoint(url: "https://example.com/hook", events: [WebhookEvent.Kind.optOutCreated.rawValue], secrets: [.generate()]),
            in: test.id)
        _ = try await test.optOut("import0@example.com")
        let chunks = Mutex(try [optOuts(0..<1_500), optOuts(1_500..<2_500)])
        let summary = try await test.store.importOptOuts(in: test.id) { chunks.withLock { $0.isEmpty ? nil : $0.removeFirst() } }
        #expect(summary == ImportSummary(items: 2_500, written: 2_499, alreadyInForce: 1))
        let rows = try await test.sql("""
            SELECT COUNT(*), COUNT(DISTINCT ledger_seq), MIN(ledger_seq), MAX(ledger_seq), (SELECT COUNT(*) FROM webhook_deliveries)
            FROM webhook_outbox
            """)
        #expect(rows.first == ["2500", "2500", "1", "2500", "2500"], "the earlier opt-out's event and the import's 2 499")
        let last = try await test.sql("SELECT data FROM webhook_outbox ORDER BY ledger_seq DESC LIMIT 1")
        #expect(last.first?.first??.contains("import2499@example.com") == true, "\(last)")
    }

    /// A failed import writes nothing; rows repeated in a file are counted once as new.
    @Test func aFailedImportWritesNothingAndRepeatsCountOnce() async throws {
        let test = try await TestStore()
        let chunks = Mutex(try [optOuts(0..<5) + optOuts(0..<2), optOuts(5..<8)])
        let summary = try await test.store.importOptOuts(in: test.id) { chunks.withLock { $0.isEmpty ? nil : $0.removeFirst() } }
        #expect(summary == ImportSummary(items: 10, written: 8, alreadyInForce: 2))
        let events = try await test.store.events(in: test.id, after: 0, limit: 20, address: nil)
        #expect(events.map(\.subject.description) == (0..<8).map { "import\($0)@example.com" }, "events in file order")

        struct Stop: Error {}
        let failing = Mutex(try [optOuts(100..<110)])
        await #expect(throws: Stop.self) {
            _ = try await test.store.importOptOuts(in: test.id) {
                try failing.withLock { chunks in
                    if chunks.isEmpty { throw Stop() }
                    return chunks.removeFirst()
                }
            }
        }
        #expect(try await test.store.events(in: test.id, after: 0, limit: 20, address: nil).count == 8)
        #expect(try !test.isBlocked("import100@example.com"))
    }
}
