import Foundation
import GRDB
import HushCore

/// Group commit for opt-outs: requests that arrive while a transaction is committing wait and
/// go together into the next one, so many concurrent writers share one fsync. Each request
/// runs in its own savepoint, so one request's bad input fails only that request, whole.
actor GroupCommit {
    private struct Request {
        let optOuts: [OptOut]
        let organization: OrganizationID
        let continuation: CheckedContinuation<[OptOutOutcome], any Error>
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

    private func commit(_ requests: [Request]) async {
        let work = requests.map { ($0.optOuts, $0.organization) }
        let now = SQLiteCoding.milliseconds(self.now())
        do {
            let results = try await writer.write { db in
                var results: [Result<[OptOutOutcome], any Error>] = []
                var changes: [IndexChange] = []
                for (optOuts, organization) in work {
                    do {
                        var outcomes: [OptOutOutcome] = []
                        try db.inSavepoint {
                            var transaction = try ChangeTransaction(db, organization: organization, now: now)
                            for (offset, optOut) in optOuts.enumerated() {
                                do {
                                    outcomes.append(try transaction.record(optOut))
                                } catch let error as HushError where optOuts.count > 1 {
                                    throw error.inItem(offset)
                                }
                            }
                            changes += transaction.changes
                            return .commit
                        }
                        results.append(.success(outcomes))
                    } catch {
                        results.append(.failure(error))
                    }
                }
                return (results, changes)
            }
            for (request, result) in zip(requests, results) {
                request.continuation.resume(with: result)
            }
        } catch {
            for request in requests { request.continuation.resume(throwing: error) }
        }
    }
}
