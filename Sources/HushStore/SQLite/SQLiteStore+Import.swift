import Foundation
import GRDB
import HushCore

extension SQLiteStore {
    /// Stages the opt-outs beside the database while the write lock is free (`ImportStaging`:
    /// `next` runs then, the rules plan each row and the address rows are made), then moves
    /// them in with one short transaction, so writes by a server on the same database wait for
    /// that commit only.
    /// Memory stays bounded by the chunk size; the index catches up from the ledger after the
    /// commit.
    public func importOptOuts(
        in organization: OrganizationID, from next: @escaping @Sendable () throws -> [OptOut]?
    ) async throws -> ImportSummary {
        let staging = try ImportStaging(beside: configuration.path)
        defer { staging.remove() }
        var planner = ImportPlanner(
            organization: try await read { db in try Self.requireOrganization(db, organization) }, indexed: indexed)
        // Address rows are made with each chunk, in a short transaction of their own, as the
        // PostgreSQL store makes a large batch's: an address row holds no suppression and no
        // event by itself, so one made for an import that then fails changes nothing.
        let erasures = try await read { db in try Self.erasuresHead(db) }
        let pool = self.pool
        try await planner.stageAll(from: next) { list in
            try await self.read { db in try ChangeTransaction.listFacts(db, list, in: organization) }
        } stage: { rows in
            let addresses = rows.compactMap { row in row.kind.map { (kind: $0, key: row.name, display: row.display ?? row.name) } }
            try await HushStore.storageErrors {
                let ids = try await pool.write { db in try ChangeTransaction.addressRows(db, addresses, in: organization) }
                try staging.stage(rows, addressIDs: ids)
            }
        }
        try staging.close()

        let now = StoredCoding.milliseconds(configuration.now())
        let path = staging.path
        let written = try await storageErrors {
            try await pool.writeWithoutTransaction { db in
                try db.execute(sql: "ATTACH DATABASE ? AS \(ImportStaging.schema)", arguments: [path])
                defer { try? db.execute(sql: "DETACH DATABASE \(ImportStaging.schema)") }
                try db.execute(sql: "PRAGMA \(ImportStaging.schema).journal_mode = OFF; PRAGMA \(ImportStaging.schema).synchronous = OFF")
                // Every row the commit writes names an address or contact it joined from its
                // table, the organization and a list it checked: foreign keys would check each
                // again (a third of the ledger's and suppressions' insert time).
                try db.execute(sql: "PRAGMA foreign_keys = OFF")
                defer { try? db.execute(sql: "PRAGMA foreign_keys = ON") }
                var written = 0
                try db.inTransaction(.immediate) {
                    var transaction = try ChangeTransaction(db, organization: organization, now: now)
                    written = try transaction.recordStaged(erasuresBefore: erasures)
                    return .commit
                }
                return written
            }
        }
        if configuration.loadsIndex {
            try await indexed.catchUp()
        }
        return ImportSummary(items: planner.items, written: written, alreadyInForce: planner.items - written)
    }

    /// The last erasure's id: an erasure after an import made its address rows may have retired one.
    static func erasuresHead(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(id), 0) FROM erasures") ?? 0
    }
}
