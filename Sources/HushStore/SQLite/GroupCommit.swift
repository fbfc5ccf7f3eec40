import Foundation
import GRDB
import HushCore

/// Group commit for opt-outs: requests that arrive while a transaction is committing wait and
/// go together into the next one, so many concurrent writers share one fsync. Each request is
/// applied whole or not at all: when one fails, the transaction is rolled back, that request
/// gets its error and the others are written again without it. No savepoints are used, because
/// SQLite's statement journal under a long savepoint makes large batches quadratic.
actor GroupCommit {
    private struct Request {
        let optOuts: [OptOut]
        let organization: OrganizationID
        let continuation: CheckedContinuation<[OptOutOutcome], any Error>
    }

    /// Request `offset` of a group failed; the group's transaction is rolled back.
    struct RequestFailed: Error {
        let offset: Int
        let error: any Error
    }

    private let writer: SQLiteWriter
    private let now: @Sendable () -> Date
    private var pending: [Request] = []
    private var committing = false

    init(writer: SQLiteWriter, now: @escaping @Sendable () -> Date) {
        self.writer = writer
        self.now = now
    }

    func submit(_ optOuts: [OptOut], in organization: OrganizationID) async throws -> [OptOutOutcome] {
        try await withCheckedThrowingContinuation { continuation in
            pending.append(Request(optOuts: optOuts, organization: organization, continuation: continuation))
            if !committing {
                committing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !pending.isEmpty {
            let requests = pending
            pending = []
            await commit(requests)
        }
        committing = false
    }

    private func commit(_ group: [Request]) async {
        var requests = group
        while !requests.isEmpty {
            let work = requests.map { ($0.optOuts, $0.organization) }
            let now = SQLiteCoding.milliseconds(self.now())
            do {
                let outcomes = try await writer.write { db in
                    var outcomes: [[OptOutOutcome]] = []
                    var changes: [IndexChange] = []
                    for (offset, (optOuts, organization)) in work.enumerated() {
                        do {
                            var transaction = try ChangeTransaction(db, organization: organization, now: now)
                            outcomes.append(try transaction.record(optOuts))
                            changes += transaction.changes
                        } catch let error as HushError where error.code != .storage {
                            throw RequestFailed(offset: offset, error: error)
                        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                            throw RequestFailed(offset: offset, error: constraintError(error))
                        }
                    }
                    return (outcomes, changes)
                }
                for (request, outcome) in zip(requests, outcomes) {
                    request.continuation.resume(returning: outcome)
                }
                return
            } catch let failed as RequestFailed {
                requests.remove(at: failed.offset).continuation.resume(throwing: failed.error)
            } catch {
                for request in requests { request.continuation.resume(throwing: error) }
                return
            }
        }
    }
}
