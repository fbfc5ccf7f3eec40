import Foundation
import HushCore

/// A row an opt-out writes a suppression for: an address row or a contact row, with the key the
/// index knows it by. Any backend's.
struct StoredTarget {
    let addressID: Int64?
    let contactID: Int64?
    let key: String
    /// For a contact reached through one of its addresses (`reachesLinkedContacts`), that
    /// address: the event's evidence describes its holder, so erasing it erases the evidence.
    var viaAddressID: Int64? = nil
    /// The address an erasure of which scrubs this target's event and its announcement.
    var erasedWith: Int64? { addressID ?? viaAddressID }
    var subject: SubjectKey { SubjectKey(stored: key) }
}

/// What makes a suppression unique: its subject row, channel, list and scope.
struct StoredSuppressionKey: Hashable {
    let addressID: Int64?
    let contactID: Int64?
    let channel: ChannelSelection
    let list: ListID
    let scope: Scope

    init(addressID: Int64?, contactID: Int64?, channel: ChannelSelection, list: ListID, scope: Scope) {
        self.addressID = addressID
        self.contactID = contactID
        self.channel = channel
        self.list = list
        self.scope = scope
    }

    init(_ target: StoredTarget, _ plan: PlannedOptOut) {
        self.init(addressID: target.addressID, contactID: target.contactID, channel: plan.channel, list: plan.list.id, scope: plan.optOut.scope)
    }
}

/// What a batch of planned opt-outs writes, decided once for every backend: for each target,
/// `ChangeRules.write` says whether the suppression in force is kept, replaced or a new one is
/// made; new ones take ledger positions from `firstSequence` on, in order. A backend loads the
/// suppressions in force, builds this, and stores `written` (ledger events, suppressions,
/// evidence) and deletes `replaced`.
struct OptOutWrites {
    /// Every ledger event's row, in order.
    private(set) var written: [(target: StoredTarget, plan: PlannedOptOut, suppression: Suppression)] = []
    /// Suppressions in force before this set that a held opt-out replaces (to delete).
    private(set) var replaced: [StoredSuppressionKey] = []
    /// Offsets in `written` of suppressions made by this set and replaced by a later item of
    /// it (a held opt-out after a plain one for the same key): events, not rows in force.
    private var superseded: Set<Int> = []
    private(set) var outcomes: [OptOutOutcome] = []
    /// What the index applies once the write commits.
    private(set) var changes: [IndexChange] = []
    /// The position after the last one taken.
    private(set) var nextSequence: Int64

    init(
        _ plans: [PlannedOptOut], targets targetsOfPlan: [[StoredTarget]], inForce: [StoredSuppressionKey: Suppression],
        organization: OrganizationID, now: Date, firstSequence: Int64
    ) {
        nextSequence = firstSequence
        var held = inForce
        var madeHere: [StoredSuppressionKey: Int] = [:]
        // Sized once: a 10 000-address set otherwise regrows each of these a dozen times.
        held.reserveCapacity(inForce.count + plans.count)
        madeHere.reserveCapacity(plans.count)
        written.reserveCapacity(plans.count)
        changes.reserveCapacity(plans.count)
        outcomes.reserveCapacity(plans.count)
        for (plan, targets) in zip(plans, targetsOfPlan) {
            var suppressions: [Suppression] = []
            var events: [LedgerEvent] = []
            for target in targets {
                let key = StoredSuppressionKey(target, plan)
                switch ChangeRules.write(hold: plan.optOut.hold, over: held[key]?.hold) {
                case .keep:
                    suppressions.append(held[key]!)
                    continue
                case .replace:
                    if let earlier = madeHere[key] { superseded.insert(earlier) } else { replaced.append(key) }
                case .create:
                    break
                }
                let suppression = Suppression(
                    organization: organization, subject: target.subject, channel: plan.channel, list: plan.list.id,
                    scope: plan.optOut.scope, since: now, source: plan.optOut.source, eventSequence: nextSequence,
                    hold: plan.optOut.hold)
                nextSequence += 1
                held[key] = suppression
                madeHere[key] = written.count
                written.append((target, plan, suppression))
                suppressions.append(suppression)
                events.append(LedgerEvent(
                    sequence: suppression.eventSequence, organization: organization, kind: .optOut,
                    recordedAt: suppression.since, subject: suppression.subject, channel: plan.channel,
                    scope: plan.optOut.scope, list: plan.list.id, source: plan.optOut.source, actor: plan.optOut.actor,
                    evidence: plan.optOut.evidence, hold: plan.optOut.hold))
                changes.append(.add(IndexKey(organization, target.key), IndexEntry(suppression, listIsDefault: plan.list.isDefault)))
            }
            outcomes.append(OptOutOutcome(suppressions: suppressions, events: events))
        }
    }

    /// These writes with every ledger position moved by `offset`: for writes worked out before
    /// their positions were known (`WrittenAhead`), with nothing in force then.
    func shifted(by offset: Int64) -> OptOutWrites {
        precondition(replaced.isEmpty, "writes that replace a suppression in force are worked out under the lock")
        guard offset != 0 else { return self }
        var shifted = self
        shifted.nextSequence += offset
        shifted.written = written.map { ($0.target, $0.plan, $0.suppression.shifted(by: offset)) }
        shifted.outcomes = outcomes.map { outcome in
            OptOutOutcome(
                suppressions: outcome.suppressions.map { $0.shifted(by: offset) }, events: outcome.events.map { $0.shifted(by: offset) })
        }
        shifted.changes = changes.map { change in
            guard case .add(let key, let entry) = change else { return change }
            return .add(key, entry.shifted(by: offset))
        }
        return shifted
    }

    /// Whether `written[offset]` stays in force: every row but one a later item replaced.
    func isProjected(_ offset: Int) -> Bool {
        !superseded.contains(offset)
    }

    /// The rows of `written` that go into the projection (the suppressions in force).
    var projected: [(target: StoredTarget, plan: PlannedOptOut, suppression: Suppression)] {
        superseded.isEmpty ? written : written.enumerated().filter { !superseded.contains($0.offset) }.map(\.element)
    }

    /// The addresses whose count of suppressions the limit applies to, among those written.
    var limitedAddresses: Set<Int64> {
        Set(written.filter { ChangeRules.countsTowardLimit($0.plan.optOut) }.compactMap(\.target.addressID))
    }

    /// The error for an address over the limit, naming the first item that wrote to it when the
    /// opt-outs are items of a batch.
    static func overLimitError(
        _ address: Int64, plans: [PlannedOptOut], addressIDs: [String: Int64], itemized: Bool, firstItem: Int?
    ) -> HushError {
        let offset = plans.firstIndex { plan in
            if case .address(let given) = plan.optOut.subject { addressIDs[given.normalized] == address } else { false }
        } ?? 0
        let error = ChangeRules.overLimit()
        return itemized ? error.inItem((firstItem ?? 0) + offset) : error
    }
}

extension Suppression {
    fileprivate func shifted(by offset: Int64) -> Suppression {
        Suppression(
            organization: organization, subject: subject, channel: channel, list: list, scope: scope, since: since,
            source: source, eventSequence: eventSequence + offset, hold: hold)
    }
}

extension LedgerEvent {
    fileprivate func shifted(by offset: Int64) -> LedgerEvent {
        LedgerEvent(
            sequence: sequence + offset, organization: organization, kind: kind, recordedAt: recordedAt, subject: subject,
            channel: channel, scope: scope, list: list, source: source, actor: actor, evidence: evidence, hold: hold)
    }
}

extension IndexEntry {
    fileprivate func shifted(by offset: Int64) -> IndexEntry {
        IndexEntry(
            eventSequence: eventSequence + offset, sinceMilliseconds: sinceMilliseconds, list: list, scope: scope, channel: channel,
            source: source, listIsDefault: listIsDefault, hold: hold)
    }
}
