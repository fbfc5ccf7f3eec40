import Foundation
import GRDB
import HushCore

extension SQLiteStore {
    /// In one transaction. Memory stays bounded by the chunk size; the index catches up from the
    /// ledger after the commit.
    public func importOptOuts(
        in organization: OrganizationID, from next: @escaping @Sendable () throws -> [OptOut]?
    ) async throws -> ImportSummary {
        let now = StoredCoding.milliseconds(configuration.now())
        let summary = try await storageErrors {
            try await pool.write { db in
                var summary = ImportSummary()
                while let chunk = try next() {
                    var transaction = try ChangeTransaction(db, organization: organization, now: now)
                    let outcomes = try transaction.record(chunk, firstItem: summary.items)
                    summary.items += chunk.count
                    for outcome in outcomes {
                        if outcome.events.isEmpty { summary.alreadyInForce += 1 } else { summary.written += outcome.events.count }
                    }
                }
                return summary
            }
        }
        if configuration.loadsIndex {
            try await indexed.catchUp()
        }
        return summary
    }
}
