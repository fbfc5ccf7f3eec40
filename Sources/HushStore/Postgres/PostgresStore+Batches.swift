import Foundation
import HushCore
import Logging
import PostgresNIO

/// The address rows of a large batch, made or found in a short transaction of their own before
/// the batch's transaction takes the append lock, and where the heads stood before (`at`).
struct PreparedAddresses: Sendable {
    let at: FeedPosition
    let ids: [String: Int64]
    let made: Set<Int64>
}

extension PostgresStore {
    /// A request this large is written in a transaction of its own rather than through group
    /// commit, with its address rows made first, outside the append lock (`recordAlone`).
    static let ownTransaction = 1_000

    /// Writes a large request on its own. Its address rows take about half of the database's
    /// time for a batch of new addresses; made in a short transaction before the append lock,
    /// they overlap other writers' appends instead of holding them up. Only the append is
    /// serialized, so concurrent batches go faster than one group commit carrying them all.
    /// Batches make their rows one at a time (`addressTurns`): made alongside each other they
    /// took the processor from the append that everyone waits for (on 2 cores, 4 writers of
    /// 10 000: a median of 47 000 opt-outs/s, one at a time 54 000).
    ///
    /// The request is planned from the directory before any row is made, and for a batch of new
    /// addresses the writes are worked out then too (`WrittenAhead`); the directory may be a
    /// moment old, so under the lock the transaction checks what they were worked out from.
    /// An address row holds no suppression and no event by itself; one made for a request that
    /// then fails (a list deleted in between) stays, as the address row of an opt-out that was
    /// later lifted does.
    ///
    /// When the directory refuses the request, or the rows cannot be made without waiting
    /// (`addressRows`), the request is written as any other: everything under the lock, where
    /// the rules decide from what the database holds (the directory may not know yet of a list
    /// another node just made).
    func recordAlone(_ optOuts: [OptOut], in organization: OrganizationID, now: Date) async throws -> [OptOutOutcome] {
        guard let planned = try await plan(optOuts, in: organization),
              let prepared = try await addressTurns.take({ try await addressRows(of: optOuts, in: organization) })
        else {
            return try await record(optOuts, in: organization, now: now, prepared: nil)
        }
        let ahead = try WrittenAhead(
            planned.plans, organization: planned.organization, lists: planned.lists, prepared: prepared,
            now: StoredCoding.milliseconds(now))
        return try await record(optOuts, in: organization, now: now, prepared: prepared, ahead: ahead)
    }

    /// How long making rows before the lock waits for a row another transaction is making. A
    /// transaction that holds the append lock makes its rows over several statements (a link, an
    /// import's chunks), not in one key order with these: waiting on each other, the two would
    /// hold every writer up until the server's deadlock timeout. Past this, the batch gives up
    /// and is written under the lock.
    static let rowWait = "100ms"

    /// The address rows of `optOuts`' addresses, made or found in a transaction of their own;
    /// nil when that had to wait for another transaction longer than `rowWait`.
    func addressRows(of optOuts: [OptOut], in organization: OrganizationID) async throws -> PreparedAddresses? {
        let addresses = optOuts.compactMap { optOut in
            if case .address(let address) = optOut.subject { address } else { nil }
        }
        let logger = self.logger
        return try await database.transaction { connection in
            try await connection.query("SET LOCAL plan_cache_mode = force_custom_plan", logger: logger)
            try await connection.query("SET LOCAL lock_timeout = '\(unescaped: Self.rowWait)'", logger: logger)
            let at = try await PostgresChangeFeed.head(connection, logger: logger)
            do {
                let (ids, made) = try await PostgresChangeTransaction.addressRows(addresses, in: organization, connection, logger: logger)
                return PreparedAddresses(at: at, ids: ids, made: made)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "55P03" {
                // lock_not_available: the transaction is aborted, and its COMMIT rolls it back.
                return nil
            }
        }
    }

    /// Writes `optOuts` on their own, with address rows made before the append lock.
    func record(
        _ optOuts: [OptOut], in organization: OrganizationID, now: Date, prepared: PreparedAddresses?, ahead: WrittenAhead? = nil
    ) async throws -> [OptOutOutcome] {
        let logger = self.logger
        let instance = database.instance
        do {
            return try await database.append { connection in
                let (outcomes, batch, from) = try await PostgresChangeTransaction.commit(
                    [GroupCommit.Work(optOuts: optOuts, organization: organization)], connection, logger: logger,
                    now: StoredCoding.milliseconds(now), notifying: instance, prepared: prepared, ahead: ahead)
                return (outcomes[0], batch, from)
            }
        } catch let failed as GroupCommit.RequestFailed {
            throw failed.error
        }
    }

    /// The opt-outs planned from the directory (which may be a moment old), with the
    /// organization and the facts of the lists they name; nil when the directory refuses one
    /// (the write under the lock then decides, and names the item).
    private func plan(
        _ optOuts: [OptOut], in id: OrganizationID
    ) async throws -> (plans: [PlannedOptOut], organization: Organization, lists: [ListID: ListFacts])? {
        guard let organization = try await organization(id) else { return nil }
        var facts: [ListID: ListFacts] = [:]
        for list in try await lists(in: id) {
            facts[list.id] = ListFacts(list)
        }
        var plans: [PlannedOptOut] = []
        plans.reserveCapacity(optOuts.count)
        var named: [ListID: ListFacts] = [:]
        for optOut in optOuts {
            let list = optOut.list ?? organization.defaultList
            guard let plan = try? ChangeRules.plan(optOut, in: organization, list: facts[list]) else { return nil }
            plans.append(plan)
            named[list] = facts[list]
        }
        return (plans, organization, named)
    }
}
