import Foundation
import GRDB
import HushCore
import HushStore

/// Seeds a database with `entries` suppressed addresses in one SQL statement per table, far
/// faster than the write path (whose speed `Writes` measures separately). Even rows are email
/// addresses, odd rows phone numbers.
enum Fixture {
    static func seed(path: String, entries: Int, erasureKey: ErasureKey) async throws {
        let store = try await SQLiteStore(.init(path: path, erasureKey: erasureKey))
        let organization = try await store.createOrganization(named: "bench")
        try await store.close()

        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = OFF") }
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try await queue.write { db in
            let org = organization.id.rawValue
            let list = organization.defaultList.rawValue
            try db.execute(sql: "CREATE TEMP TABLE seed AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) SELECT i, \(keySQL) AS key FROM n", arguments: [entries])
            try db.execute(sql: """
                INSERT INTO addresses (id, org_id, kind, key, display)
                SELECT i, ?, CASE WHEN i % 2 = 0 THEN 'email' ELSE 'phone' END, key, key FROM seed
                """, arguments: [org])
            try db.execute(sql: """
                INSERT INTO ledger (seq, org_id, kind, recorded_at, address_id, channel, scope, list_id, source, actor)
                SELECT i, ?, 'opt_out', 1780000000000 + i, i, CASE WHEN i % 2 = 0 THEN 'email' ELSE 'sms' END, '', ?,
                       'import', 'bench' FROM seed
                """, arguments: [org, list])
            try db.execute(sql: """
                INSERT INTO suppressions (id, org_id, address_id, subject_key, channel, list_id, scope, since, source, event_seq)
                SELECT i, ?, i, key, CASE WHEN i % 2 = 0 THEN 'email' ELSE 'sms' END, ?, '', 1780000000000 + i, 'import', i
                FROM seed
                """, arguments: [org, list])
            try db.execute(sql: "DROP TABLE seed")
        }
        try queue.close()
    }

    /// The address of row `i`, as SQL.
    static let keySQL = "CASE WHEN i % 2 = 0 THEN 'user' || i || '@example.com' ELSE printf('+4420%08d', i) END"

    /// The same address in Swift.
    static func address(_ i: Int) -> String {
        i % 2 == 0 ? "user\(i)@example.com" : "+4420" + String(format: "%08d", i)
    }

    static func channel(_ i: Int) -> Channel {
        i % 2 == 0 ? .email : .sms
    }
}
