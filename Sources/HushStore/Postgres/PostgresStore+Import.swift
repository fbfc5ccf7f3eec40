import Foundation
import HushCore
import Logging
import PostgresNIO

extension PostgresStore {
    /// In one transaction, which holds the append lock from the first chunk to the commit. Memory
    /// stays bounded by the chunk size: after the commit this node's index reads what was
    /// written from the ledger, as the other nodes do.
    public func importOptOuts(
        in organization: OrganizationID, from next: @escaping @Sendable () throws -> [OptOut]?
    ) async throws -> ImportSummary {
        let now = StoredCoding.milliseconds(configuration.now())
        let logger = self.logger
        let instance = database.instance
        return try await database.writeThenCatchUp { connection in
            var summary = ImportSummary()
            while let chunk = try next() {
                var transaction = try await PostgresChangeTransaction(
                    connection, logger: logger, organization: organization, now: now, notifying: instance)
                let outcomes = try await transaction.record(chunk, firstItem: summary.items)
                summary.items += chunk.count
                for outcome in outcomes {
                    if outcome.events.isEmpty { summary.alreadyInForce += 1 } else { summary.written += outcome.events.count }
                }
            }
            return summary
        }
    }
}
