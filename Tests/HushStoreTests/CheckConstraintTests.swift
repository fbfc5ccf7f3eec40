import GRDB
import HushCore
import HushTestSupport
import Testing
@testable import HushStore

/// Migration v14 rewrites the bulk tables' IN-list checks as OR chains: the same constraints,
/// cheaper to check for every row.
@Suite(.sqliteOnly) struct CheckConstraintTests {
    @Test func inListsBecomeOrChains() {
        #expect(SQLiteSchema.orChains("kind TEXT NOT NULL CHECK (kind IN ('opt_out', 'opt_in')), hold INTEGER CHECK (hold IN (0, 1))")
            == "kind TEXT NOT NULL CHECK ((kind = 'opt_out' OR kind = 'opt_in')), hold INTEGER CHECK ((hold = 0 OR hold = 1))")
    }

    @Test func theRewrittenChecksStillRefuseWhatTheyRefused() async throws {
        let test = try await TestStore()
        let organization = test.id.rawValue
        try await test.sqlite.pool.writeWithoutTransaction { db in
            for table in SQLiteSchema.bulkTables {
                let sql = try #require(try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = ?", arguments: [table]))
                #expect(!sql.contains(" IN ("), "\(table): \(sql)")
            }
            // Only the checks are under test: references are left unchecked here.
            try db.execute(sql: "PRAGMA foreign_keys = OFF")
            defer { try? db.execute(sql: "PRAGMA foreign_keys = ON") }
            let ledger = """
                INSERT INTO ledger (seq, org_id, kind, recorded_at, address_id, channel, scope, list_id, source, actor, hold)
                VALUES (?, \(organization), ?, 0, 1, ?, '', 1, ?, 'test', ?)
                """
            try db.execute(sql: ledger, arguments: [900, "opt_out", "email", "api", 0])
            for (kind, channel, source, hold) in [("bogus", "email", "api", 0), ("opt_out", "fax", "api", 0), ("opt_out", "email", "mail", 0), ("opt_out", "email", "api", 2)] {
                #expect(throws: DatabaseError.self, "\(kind) \(channel) \(source) \(hold)") {
                    try db.execute(sql: ledger, arguments: [901, kind, channel, source, hold])
                }
            }
            #expect(throws: DatabaseError.self) {
                try db.execute(sql: """
                    INSERT INTO suppressions (org_id, address_id, subject_key, channel, list_id, scope, since, source, event_seq)
                    VALUES (\(organization), 1, 'a@example.com', 'fax', 1, '', 0, 'api', 1)
                    """)
            }
            #expect(throws: DatabaseError.self) {
                try db.execute(sql: "INSERT INTO addresses (org_id, kind, key, display) VALUES (\(organization), 'fax', 'k', 'k')")
            }
        }
    }
}
