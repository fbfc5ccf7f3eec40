import Foundation
import HushCore
import PostgresNIO

/// A large request's writes worked out before the append lock (`PostgresStore.recordAlone`),
/// when every opt-out names an address whose row was just made (a batch of new addresses, as
/// imports and first syncs send): such a row has no links and nothing in force, so what the
/// request writes depends on nothing the lock guards but the positions, which are moved into
/// place under it (`OptOutWrites.shifted`, the append statement's offset). Under the lock the
/// transaction checks that this still holds and writes the rows; when it does not (a list or
/// the organization's settings changed, an erasure came, another write named a row meanwhile)
/// the request is worked out again under the lock, as any other.
struct WrittenAhead {
    /// The organization and the facts of the lists the plans were made with (the directory's).
    let organization: Organization
    let lists: [ListID: ListFacts]
    let plans: [PlannedOptOut]
    let writes: OptOutWrites
    let rows: AppendRows
    /// The position `writes` start at: right when nothing is appended before this request.
    let firstSequence: Int64

    init?(_ plans: [PlannedOptOut], organization: Organization, lists: [ListID: ListFacts], prepared: PreparedAddresses, now: Int64) throws {
        var targets: [[StoredTarget]] = []
        targets.reserveCapacity(plans.count)
        for plan in plans {
            guard case .address(let address) = plan.optOut.subject, let id = prepared.ids[address.normalized], prepared.made.contains(id) else {
                return nil
            }
            targets.append([StoredTarget(addressID: id, contactID: nil, key: address.normalized)])
        }
        self.organization = organization
        self.lists = lists
        self.plans = plans
        firstSequence = prepared.at.ledger + 1
        writes = OptOutWrites(
            plans, targets: targets, inForce: [:], organization: organization.id, now: StoredCoding.date(now), firstSequence: firstSequence)
        rows = try AppendRows(writes, made: prepared.made)
    }
}

extension PostgresChangeTransaction {
    /// Writes `ahead` when what it was worked out from still holds under the lock: the outcomes,
    /// or nil when the request must be worked out again.
    mutating func record(_ ahead: WrittenAhead, prepared: PreparedAddresses) async throws -> [OptOutOutcome]? {
        guard organization.settings == ahead.organization.settings, organization.defaultList == ahead.organization.defaultList,
              ahead.lists.allSatisfy({ id, facts in knownLists[id] == .some(facts) }),
              prepared.at.erasures == from.erasures, try await namedSince(prepared).isEmpty
        else { return nil }
        let offset = nextSequence - ahead.firstSequence
        let writes = ahead.writes.shifted(by: offset)
        nextSequence = writes.nextSequence
        changes += writes.changes
        if let full = try await append(ahead.rows, offset: offset).first {
            throw RequestFailure(
                request: 0,
                error: OptOutWrites.overLimitError(full, plans: ahead.plans, addressIDs: prepared.ids, itemized: ahead.plans.count > 1, firstItem: nil))
        }
        if try await outbox.isListening() {
            try await announce(writes.outcomes.flatMap(\.events), addressIDs: writes.written.map(\.target.erasedWith))
        }
        return writes.outcomes
    }
}
