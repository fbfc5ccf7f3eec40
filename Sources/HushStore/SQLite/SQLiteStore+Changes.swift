import Foundation
import GRDB
import HushCore

extension SQLiteStore {
    /// Concurrent calls share a transaction (group commit); each call is applied whole or not
    /// at all, and is durable when it returns.
    public func record(_ optOuts: [OptOut], in organization: OrganizationID) async throws -> [OptOutOutcome] {
        try indexed.requireRoom(for: optOuts)
        return try await groupCommit.submit(optOuts, in: organization)
    }

    /// One group of opt-out requests in one transaction (see `GroupCommit`).
    static func commit(_ group: [GroupCommit.Work], _ db: Database, now: Int64) throws -> ([[OptOutOutcome]], [IndexChange]) {
        var outcomes: [[OptOutOutcome]] = []
        var changes: [IndexChange] = []
        for (offset, work) in group.enumerated() {
            do {
                var transaction = try ChangeTransaction(db, organization: work.organization, now: now)
                outcomes.append(try transaction.record(work.optOuts))
                changes += transaction.changes
            } catch let error as HushError where error.code != .storage {
                throw GroupCommit.RequestFailed(offset: offset, error: error)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw GroupCommit.RequestFailed(offset: offset, error: constraintError(error))
            }
        }
        return (outcomes, changes)
    }

    public func record(_ optIns: [OptIn], in organization: OrganizationID) async throws -> [OptInOutcome] {
        let now = StoredCoding.milliseconds(configuration.now())
        let erasureKey = configuration.erasureKey
        return try await write { db in
            var transaction = try ChangeTransaction(db, organization: organization, now: now)
            var outcomes: [OptInOutcome] = []
            outcomes.reserveCapacity(optIns.count)
            for (offset, optIn) in optIns.enumerated() {
                do {
                    outcomes.append(try transaction.record(optIn, erasureKey: erasureKey))
                } catch let error as HushError where optIns.count > 1 {
                    throw error.inItem(offset)
                }
            }
            return (outcomes, transaction.changes)
        }
    }
}

extension HushError {
    /// The same error, its field placed inside item `offset` of a batch (`items[3].address`).
    func inItem(_ offset: Int) -> HushError {
        HushError(code, field: "items[\(offset)]" + (field.map { ".\($0)" } ?? ""), message)
    }
}
