import GRDB
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

/// Migration v10 re-keys addresses stored under the old rules (#14). The tests store opt-outs,
/// put their rows back under the keys the old rules gave, run the re-keying, and reopen.
@Suite(.sqliteOnly) struct RekeyTests {
    /// Rewrites an address row (and its suppressions) to an old key, as v9 would have stored it.
    private func storeUnderOldKey(_ test: TestStore, key: String, oldKey: String, display: String) async throws {
        try await test.sqlite.pool.write { db in
            try db.execute(sql: "UPDATE addresses SET key = ?, display = ? WHERE key = ?", arguments: [oldKey, display, key])
            try db.execute(sql: "UPDATE suppressions SET subject_key = ? WHERE subject_key = ?", arguments: [oldKey, key])
        }
    }

    private func ledgerRows(_ test: TestStore) async throws -> [Row] {
        try await test.sqlite.pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM ledger ORDER BY seq") }
    }

    @Test func misreadPhoneKeyIsReadAgainAndTheCheckFindsIt() async throws {
        let test = try await TestStore()
        _ = try await test.optOut("+44 121 234 5678", "sms")
        try await storeUnderOldKey(test, key: "+441212345678", oldKey: "+4401212345678", display: "+44 0121 234 5678")
        let ledger = try await ledgerRows(test)

        let changed = try await test.sqlite.pool.write { db in try SQLiteSchema.rekeyAddresses(db) }
        #expect(changed == 1)
        try await test.store.close()
        let reopened = try await TestStore(database: test.database)
        #expect(try reopened.isBlocked("+441212345678", .sms))
        #expect(try await ledgerRows(reopened) == ledger, "the ledger is not touched")
    }

    @Test func spellingsOfOneMailboxAreMergedAndKeepTheirHistory() async throws {
        let test = try await TestStore()
        _ = try await test.optOut("ann@example.com", "email")
        _ = try await test.optOut("ann@example.org", "email", scope: "acme")
        _ = try await test.optOut("\u{3BD}\u{3B9}\u{3BA}\u{3BF}\u{3C3}@example.gr", "email")
        _ = try await test.optOut("nikos@example.gr", "email", scope: "acme")
        // ann@ｅｘａｍｐｌｅ.com was stored under the punycode of its full-width domain, and
        // νικος@ (final sigma) under its own key, before UTS 46 mapping and case folding.
        try await storeUnderOldKey(
            test, key: "ann@example.org", oldKey: "ann@xn--mi7chab1aes7c.com",
            display: "ann@\u{FF45}\u{FF58}\u{FF41}\u{FF4D}\u{FF50}\u{FF4C}\u{FF45}.com")
        try await storeUnderOldKey(
            test, key: "nikos@example.gr", oldKey: "\u{3BD}\u{3B9}\u{3BA}\u{3BF}\u{3C2}@example.gr",
            display: "\u{3BD}\u{3B9}\u{3BA}\u{3BF}\u{3C2}@example.gr")
        let ledger = try await ledgerRows(test)

        let changed = try await test.sqlite.pool.write { db in try SQLiteSchema.rekeyAddresses(db) }
        #expect(changed == 2)
        try await test.store.close()
        let reopened = try await TestStore(database: test.database)
        // Both opt-outs of each mailbox hold under its one key, in either scope.
        #expect(try reopened.isBlocked("ann@example.com"))
        #expect(try reopened.isBlocked("ann@example.com", scope: "acme"))
        #expect(try reopened.isBlocked("\u{39D}\u{399}\u{39A}\u{39F}\u{3A3}@example.gr", scope: "acme"))
        #expect(try reopened.isBlocked("\u{3BD}\u{3B9}\u{3BA}\u{3BF}\u{3C2}@example.gr"))
        // History by address finds the merged row's events too; the ledger is as it was.
        let history = try await reopened.store.events(
            in: reopened.id, after: 0, limit: 10, address: Address(parsing: "ANN@example.com"))
        #expect(history.count == 2)
        #expect(try await ledgerRows(reopened) == ledger)
        let merged = try await reopened.sqlite.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM addresses WHERE merged_into IS NOT NULL")
        }
        #expect(merged == 2)
    }

    @Test func erasingAMergedMailboxErasesEveryRowOfIt() async throws {
        let test = try await TestStore()
        _ = try await test.optOut("stra\u{DF}e@example.de")
        _ = try await test.optOut("other@example.de", scope: "acme")
        try await storeUnderOldKey(test, key: "strasse@example.de", oldKey: "stra\u{DF}e@example.de", display: "stra\u{DF}e@example.de")
        try await storeUnderOldKey(test, key: "other@example.de", oldKey: "strasse@example.de", display: "STRASSE@example.de")
        _ = try await test.sqlite.pool.write { db in try SQLiteSchema.rekeyAddresses(db) }
        try await test.store.close()
        let reopened = try await TestStore(database: test.database)
        #expect(try await reopened.store.erase(Address(parsing: "Strasse@example.de"), in: reopened.id))
        let clear = try await reopened.sqlite.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM addresses WHERE key LIKE 'stra%' OR display IS NOT NULL")
        }
        #expect(clear == 0)
        #expect(try reopened.isBlocked("strasse@example.de"))
        #expect(try reopened.isBlocked("strasse@example.de", scope: "acme"))
    }

    @Test func keyTheInputAsGivenStillGivesIsLeftAlone() throws {
        // Read again, "+3590010453" would become "+359010453", which a check of "00010453" misses.
        #expect(SQLiteSchema.rekeyed(key: "+3590010453", display: "00010453", kind: "phone", region: Region(code: "BG")) == nil)
    }

    @Test func keyThatNoLongerReadsIsKeptAsItWas() throws {
        #expect(SQLiteSchema.rekeyed(key: "+44020794609", display: nil, kind: "phone", region: nil) == nil)
        #expect(SQLiteSchema.rekeyed(key: "+14442079460958", display: "0014 44 20 7946 0958", kind: "phone", region: .au)
            == "+442079460958")
    }
}
