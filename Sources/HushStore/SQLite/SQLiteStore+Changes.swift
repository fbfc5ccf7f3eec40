import Foundation
import GRDB
import HushCore

extension SQLiteStore {
    public func record(_ optOuts: [OptOut], in organization: OrganizationID) async throws -> [OptOutOutcome] {
        let now = SQLiteCoding.milliseconds(configuration.now())
        return try await write { db in
            var transaction = try ChangeTransaction(db, organization: organization, now: now)
            var outcomes: [OptOutOutcome] = []
            outcomes.reserveCapacity(optOuts.count)
            for (offset, optOut) in optOuts.enumerated() {
                do {
                    outcomes.append(try transaction.record(optOut))
                } catch let error as HushError where optOuts.count > 1 {
                    throw error.inItem(offset)
                }
            }
            return (outcomes, transaction.changes)
        }
    }

    public func record(_ optIn: OptIn, in organization: OrganizationID) async throws -> OptInOutcome {
        let now = SQLiteCoding.milliseconds(configuration.now())
        let erasureKey = configuration.erasureKey
        return try await write { db in
            var transaction = try ChangeTransaction(db, organization: organization, now: now)
            let outcome = try transaction.record(optIn, erasureKey: erasureKey)
            return (outcome, transaction.changes)
        }
    }
}

extension HushError {
    /// The same error, its field placed inside item `offset` of a batch (`items[3].address`).
    func inItem(_ offset: Int) -> HushError {
        HushError(code, field: "items[\(offset)]" + (field.map { ".\($0)" } ?? ""), message)
    }
}
