import Foundation
import HushCore

/// Group commit for opt-outs, for any backend: requests that arrive while a transaction is
/// committing wait and go together into the next one, so many concurrent writers share one
/// commit (one fsync). Each request is applied whole or not at all: when one fails, the backend
/// rolls the transaction back and throws `RequestFailed` naming it; that request gets its error
/// and the others are written again without it. No savepoints are used, because SQLite's
/// statement journal under a long savepoint makes large batches quadratic.
actor GroupCommit {
    /// One request: opt-outs of one organization, applied whole or not at all.
    struct Work: Sendable {
        let optOuts: [OptOut]
        let organization: OrganizationID
    }

    /// Writes a group in one transaction, stamped `now`: each request's outcomes in order.
    typealias Commit = @Sendable (_ group: [Work], _ now: Date) async throws -> [[OptOutOutcome]]

    private struct Request {
        let work: Work
        let continuation: CheckedContinuation<[OptOutOutcome], any Error>
    }

    /// Request `offset` of a group failed; the group's transaction is rolled back.
    struct RequestFailed: Error {
        let offset: Int
        let error: any Error
    }

    private let commitGroup: Commit
    private let now: @Sendable () -> Date
    private var pending: [Request] = []
    private var committing = false

    init(now: @escaping @Sendable () -> Date, commit: @escaping Commit) {
        self.commitGroup = commit
        self.now = now
    }

    func submit(_ optOuts: [OptOut], in organization: OrganizationID) async throws -> [OptOutOutcome] {
        try await withCheckedThrowingContinuation { continuation in
            pending.append(Request(work: Work(optOuts: optOuts, organization: organization), continuation: continuation))
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
            do {
                let outcomes = try await commitGroup(requests.map(\.work), now())
                for (request, outcome) in zip(requests, outcomes) {
                    request.continuation.resume(returning: outcome)
                }
                return
            } catch let failed as RequestFailed {
                requests.remove(at: failed.offset).continuation.resume(throwing: failed.error)
            } catch {
                // The database refused the group and no request is named: each is written
                // alone, so one bad request cannot fail the others.
                if requests.count > 1 {
                    for request in requests { await commit([request]) }
                    return
                }
                for request in requests { request.continuation.resume(throwing: error) }
                return
            }
        }
    }
}
