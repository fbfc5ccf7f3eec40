import Foundation
import GRDB
import HushCore

/// What an import wrote.
public struct ImportSummary: Hashable, Sendable {
    /// Opt-outs read.
    public var items = 0
    /// Ledger events written: opt-outs that were not in force yet.
    public var written = 0
    /// Opt-outs that were already in force and wrote nothing.
    public var alreadyInForce = 0
}

extension SQLiteStore {
    /// Records every opt-out `next` yields, a chunk at a time, in one transaction: an import
    /// that fails or is interrupted leaves nothing behind. Memory stays bounded by the chunk
    /// size; the index catches up from the ledger after the commit. An error names the item by
    /// its position in the whole import (`items[41999].channel`).
    public func importOptOuts(
        in organization: OrganizationID, from next: @escaping @Sendable () throws -> [OptOut]?
    ) async throws -> ImportSummary {
        let now = SQLiteCoding.milliseconds(configuration.now())
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
            try await follower.catchUp()
        }
        return summary
    }
}
