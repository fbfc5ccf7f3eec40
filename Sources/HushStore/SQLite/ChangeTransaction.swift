import Foundation
import GRDB
import HushCore

/// One write transaction's worth of opt-outs and opt-ins: appends ledger events, updates the
/// projection and collects what the index must apply. Sequences are taken from the ledger head
/// once, which is safe because SQLite runs one write transaction at a time.
struct ChangeTransaction {
    let db: Database
    let organization: Organization
    let now: Int64
    var nextSequence: Int64
    private var knownLists: [ListID: ListFacts?] = [:]
    var outbox: Outbox
    private(set) var changes: [IndexChange] = []

    init(_ db: Database, organization: OrganizationID, now: Int64) throws {
        self.db = db
        self.organization = try SQLiteStore.requireOrganization(db, organization)
        self.now = now
        self.outbox = Outbox(db, organization: organization, now: StoredCoding.date(now))
        self.nextSequence = (try Int64.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(seq), 0) + 1 FROM ledger"))) ?? 1
    }

    /// Records opt-outs set-wise: one statement per table for every 500 rows, so a batch costs
    /// little more than its B-tree work. A batch's error names its item (`items[3].channel`).
    /// `firstItem` numbers the items in errors when they are part of a larger whole (an import).
    mutating func record(_ optOuts: [OptOut], firstItem: Int? = nil) throws -> [OptOutOutcome] {
        var plans: [Plan] = []
        plans.reserveCapacity(optOuts.count)
        for (offset, optOut) in optOuts.enumerated() {
            do {
                plans.append(try plan(optOut))
            } catch let error as HushError where optOuts.count > 1 || firstItem != nil {
                throw error.inItem((firstItem ?? 0) + offset)
            }
        }
        let addressIDs = try addressRows(plans.compactMap { plan in
            if case .address(let address) = plan.optOut.subject { address } else { nil }
        })

        var targetsOfPlan: [[StoredTarget]] = []
        targetsOfPlan.reserveCapacity(plans.count)
        for plan in plans {
            switch plan.optOut.subject {
            case .address(let address):
                let addressID = addressIDs[address.normalized]!
                var targets = [StoredTarget(addressID: addressID, contactID: nil, key: address.normalized)]
                if plan.reachesLinkedContacts {
                    targets += try contacts(ofAddress: addressID).map {
                        StoredTarget(addressID: nil, contactID: $0.rowID, key: SubjectKey.contact($0.externalID).stored, viaAddressID: addressID)
                    }
                }
                targetsOfPlan.append(targets)
            case .contact(let contact):
                let contactID = try contactRow(contact)
                targetsOfPlan.append([StoredTarget(addressID: nil, contactID: contactID, key: SubjectKey.contact(contact.externalID).stored)])
            }
        }

        let inForce = try existingSuppressions(Set(zip(plans, targetsOfPlan).flatMap { plan, targets in
            targets.map { StoredSuppressionKey($0, plan) }
        }))
        let writes = OptOutWrites(
            plans, targets: targetsOfPlan, inForce: inForce, organization: organization.id, now: StoredCoding.date(now),
            firstSequence: nextSequence)
        nextSequence = writes.nextSequence
        changes += writes.changes
        let written = writes.written
        let outcomes = writes.outcomes

        let organizationID = organization.id.rawValue
        let now = self.now
        var counters = ConsoleCounters()
        for key in writes.replaced {
            try db.cachedStatement(sql: """
                DELETE FROM suppressions WHERE (address_id = ? OR contact_id = ?) AND channel = ? AND list_id = ? AND scope = ?
                """).execute(arguments: [key.addressID, key.contactID, key.channel.rawValue, key.list.rawValue, key.scope.path])
            counters.suppressions(on: key.list, channel: key.channel, changedBy: -db.changesCount)
        }
        for row in written { counters.appended(.optOut, channel: row.plan.channel, source: row.plan.optOut.source) }
        for row in writes.projected { counters.suppressions(on: row.plan.list.id, channel: row.plan.channel, changedBy: 1) }
        try counters.write(db, organization: organization.id, at: now)
        try BulkStatement(head: """
            INSERT INTO ledger (seq, org_id, kind, recorded_at, address_id, contact_id, channel, scope, list_id, source, actor, hold)
            VALUES
            """, columns: 12).run(written, in: db) { row, values in
            values.bind(row.suppression.eventSequence)
            values.bind(organizationID)
            values.bind(EventKind.optOut.rawValue)
            values.bind(now)
            values.bind(row.target.addressID)
            values.bind(row.target.contactID)
            values.bind(row.plan.channel.rawValue)
            values.bind(row.plan.optOut.scope.path)
            values.bind(row.plan.list.id.rawValue)
            values.bind(row.plan.optOut.source.rawValue)
            values.bind(row.plan.optOut.actor)
            values.bind(row.plan.optOut.hold ? 1 : 0)
        }
        try BulkStatement(head: """
            INSERT INTO suppressions (org_id, address_id, contact_id, subject_key, channel, list_id, scope, since, source, event_seq, hold)
            VALUES
            """, columns: 11).run(writes.projected, in: db) { row, values in
            values.bind(organizationID)
            values.bind(row.target.addressID)
            values.bind(row.target.contactID)
            values.bind(row.target.key)
            values.bind(row.plan.channel.rawValue)
            values.bind(row.plan.list.id.rawValue)
            values.bind(row.plan.optOut.scope.path)
            values.bind(now)
            values.bind(row.plan.optOut.source.rawValue)
            values.bind(row.suppression.eventSequence)
            values.bind(row.plan.optOut.hold ? 1 : 0)
        }
        if let full = try addressesOverLimit(writes.limitedAddresses).first {
            throw OptOutWrites.overLimitError(
                full, plans: plans, addressIDs: addressIDs, itemized: optOuts.count > 1 || firstItem != nil, firstItem: firstItem)
        }
        let evidence = try written.filter { !$0.plan.optOut.evidence.isEmpty }.map { row in
            (row.suppression.eventSequence, try StoredCoding.json(row.plan.optOut.evidence), row.target.viaAddressID)
        }
        try BulkStatement(head: "INSERT INTO evidence (event_seq, json, via_address_id) VALUES", columns: 3).run(evidence, in: db) { row, values in
            values.bind(row.0)
            values.bind(row.1)
            values.bind(row.2)
        }
        if try outbox.isListening() {
            try announce(outcomes.flatMap(\.events), addressIDs: written.map(\.target.erasedWith))
        }
        return outcomes
    }

    /// Puts the events in the webhook outbox, in this transaction.
    /// `address` names the address in clear when the event's subject is an erased one's hash.
    mutating func announce(_ events: [LedgerEvent], addressIDs: [Int64?], address given: String? = nil) throws {
        // Writes (an import of a million rows among them) build no payloads nobody listens for.
        guard !events.isEmpty, try outbox.isListening() else { return }
        let announced = events.map { event in
            let address: String? = if case .address(let key) = event.subject { given ?? key } else { nil }
            return WebhookEvent(event, address: address, listName: knownLists[event.list]??.name ?? "")
        }
        try outbox.enqueue(announced, addressIDs: addressIDs, now: now)
    }

    mutating func record(_ optIn: OptIn, erasureKey: ErasureKey) throws -> OptInOutcome {
        let list = optIn.list ?? organization.defaultList
        let isDefault = try ChangeRules.check(list, listFacts(list), covers: optIn.channel).isDefault
        let targets: [StoredTarget]
        switch optIn.subject {
        case .address(let address):
            // The live address, and its erased hash: a person who was erased can still come back.
            let hashed = erasureKey.hashedKey(for: address.normalized)
            targets = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT id, key FROM addresses
                WHERE org_id = ? AND ((key = ? AND erased_at IS NULL) OR (key = ? AND erased_at IS NOT NULL))
                """), arguments: [organization.id.rawValue, address.normalized, hashed])
                .map { StoredTarget(addressID: $0[0], contactID: nil, key: $0[1]) }
        case .contact(let contact):
            targets = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM contacts WHERE org_id = ? AND external_id = ?"),
                                         arguments: [organization.id.rawValue, contact.externalID])
                .map { [StoredTarget(addressID: nil, contactID: $0, key: SubjectKey.contact(contact.externalID).stored)] } ?? []
        }
        for target in targets {
            guard let row = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT id, since, source, event_seq, hold FROM suppressions
                WHERE (address_id = ? OR contact_id = ?) AND channel = ? AND list_id = ? AND scope = ?
                """), arguments: [target.addressID, target.contactID, optIn.channel.rawValue, list.rawValue, optIn.scope.path])
            else { continue }
            let suppression = try Suppression(
                organization: organization.id, subject: target.subject, channel: optIn.channel, list: list,
                scope: optIn.scope, since: StoredCoding.date(row[1]), source: StoredCoding.source(row[2]),
                eventSequence: row[3], hold: row[4])
            // The one place that decides who lifts what (DESIGN rule 2).
            guard ChangeRules.lifts(optIn, suppression) else { continue }
            try db.cachedStatement(sql: "DELETE FROM suppressions WHERE id = ?").execute(arguments: [row[0] as Int64])
            var counters = ConsoleCounters()
            counters.suppressions(on: list, channel: optIn.channel, changedBy: -1)
            counters.appended(.optIn, channel: optIn.channel, source: optIn.source)
            try counters.write(db, organization: organization.id, at: now)
            let sequence = nextSequence
            nextSequence += 1
            let event = try appendEvent(
                .optIn, sequence: sequence, target: target, channel: optIn.channel, scope: optIn.scope, list: list,
                source: optIn.source, actor: optIn.actor, evidence: optIn.evidence, hold: suppression.hold)
            changes.append(.remove(IndexKey(organization.id, target.key), IndexEntry(suppression, listIsDefault: isDefault)))
            // A person who was erased and opts back in is announced by the address they gave.
            let given: String? = if case .address(let address) = optIn.subject { address.normalized } else { nil }
            try announce([event], addressIDs: [target.addressID], address: given)
            return OptInOutcome(lifted: suppression, event: event)
        }
        return OptInOutcome(lifted: nil, event: nil)
    }

    // MARK: Rows

    
    fileprivate typealias Plan = PlannedOptOut

    private mutating func plan(_ optOut: OptOut) throws -> Plan {
        try ChangeRules.plan(optOut, in: organization, list: listFacts(optOut.list ?? organization.defaultList))
    }

    /// What the rules need of a list: nil when it is not an active list of this organization.
    /// One cached statement, once per list per transaction.
    mutating func listFacts(_ list: ListID) throws -> ListFacts? {
        if let known = knownLists[list] { return known }
        let facts = try Self.listFacts(db, list, in: organization.id)
        knownLists[list] = facts
        if let facts { changes.append(.name(list, facts.name)) }
        return facts
    }

    static func listFacts(_ db: Database, _ list: ListID, in organization: OrganizationID) throws -> ListFacts? {
        try Row.fetchOne(db.cachedStatement(sql: """
            SELECT is_default, name, channels FROM lists WHERE id = ? AND org_id = ? AND deleted_at IS NULL
            """), arguments: [list.rawValue, organization.rawValue]).map { row in
            ListFacts(id: list, isDefault: row[0], name: row[1], channels: try StoredCoding.channels(row[2]))
        }
    }

    func addressRow(_ address: Address) throws -> Int64 {
        guard let id = try addressRows([address])[address.normalized] else {
            throw HushError(.storage, "the address row was not written")
        }
        return id
    }

    /// The live row of each address, created when missing: normalized address to row id.
    func addressRows(_ addresses: [Address]) throws -> [String: Int64] {
        try Self.addressRows(db, addresses.map { (kind: $0.kind.rawValue, key: $0.normalized, display: $0.input) }, in: organization.id)
    }

    /// The live row of each address (kind, normalized key, as given), created when missing:
    /// key to row id.
    static func addressRows(
        _ db: Database, _ addresses: [(kind: String, key: String, display: String)], in organization: OrganizationID
    ) throws -> [String: Int64] {
        var seen = Set<String>()
        let unique = addresses.filter { seen.insert($0.key).inserted }
        var ids: [String: Int64] = Dictionary(minimumCapacity: unique.count)
        let organizationID = organization.rawValue
        try BulkStatement(head: "INSERT INTO addresses (org_id, kind, key, display) VALUES", columns: 4, tail: """
            ON CONFLICT (org_id, key) WHERE erased_at IS NULL AND merged_into IS NULL DO UPDATE SET display = display
            RETURNING id, key
            """).run(unique, in: db, bind: { address, values in
            values.bind(organizationID)
            values.bind(address.kind)
            values.bind(address.key)
            values.bind(address.display)
        }, row: { row in
            ids[row.string(1)] = row.int64(0)
        })
        guard ids.count == unique.count else { throw HushError(.storage, "an address row was not written") }
        return ids
    }

    private func contactRow(_ contact: ContactID) throws -> Int64 {
        try SQLiteStore.contactRow(db, contact, in: organization.id, now: now)
    }

    private func contacts(ofAddress address: Int64) throws -> [(rowID: Int64, externalID: String)] {
        try Row.fetchAll(db.cachedStatement(sql: """
            SELECT c.id, c.external_id FROM contact_links l JOIN contacts c ON c.id = l.contact_id WHERE l.address_id = ?
            """), arguments: [address]).map { ($0[0], $0[1]) }
    }

    /// The suppressions already in force among `keys`.
    private func existingSuppressions(_ keys: Set<StoredSuppressionKey>) throws -> [StoredSuppressionKey: Suppression] {
        var found: [StoredSuppressionKey: Suppression] = [:]
        for column in ["address_id", "contact_id"] {
            let wanted = keys.filter { (column == "address_id" ? $0.addressID : $0.contactID) != nil }
            // CROSS JOIN keeps the wanted keys as the outer loop, each one an index lookup.
            try BulkStatement(head: """
                SELECT s.address_id, s.contact_id, s.subject_key, s.channel, s.list_id, s.scope, s.since, s.source, s.event_seq, s.hold
                FROM (VALUES
                """, columns: 4, tail: """
                ) v CROSS JOIN suppressions s
                WHERE s.\(column) = v.column1 AND s.channel = v.column2 AND s.list_id = v.column3 AND s.scope = v.column4
                """).run(wanted, in: db, bind: { key, values in
                values.bind(key.addressID ?? key.contactID)
                values.bind(key.channel.rawValue)
                values.bind(key.list.rawValue)
                values.bind(key.scope.path)
            }, row: { row in
                let key = StoredSuppressionKey(
                    addressID: row.optionalInt64(0), contactID: row.optionalInt64(1),
                    channel: try StoredCoding.channel(row.string(3)), list: ListID(rawValue: row.int64(4)),
                    scope: try StoredCoding.scope(row.string(5)))
                found[key] = try Suppression(
                    organization: organization.id, subject: SubjectKey(stored: row.string(2)), channel: key.channel,
                    list: key.list, scope: key.scope, since: StoredCoding.date(row.int64(6)),
                    source: StoredCoding.source(row.string(7)), eventSequence: row.int64(8), hold: row.int64(9) != 0)
            })
        }
        return found
    }

    private func appendEvent(
        _ kind: EventKind, sequence: Int64, target: StoredTarget, channel: ChannelSelection, scope: Scope, list: ListID,
        source: Source, actor: String, evidence: Evidence, hold: Bool
    ) throws -> LedgerEvent {
        try db.cachedStatement(sql: """
            INSERT INTO ledger (seq, org_id, kind, recorded_at, address_id, contact_id, channel, scope, list_id, source, actor, hold)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute( arguments: [
                sequence, organization.id.rawValue, kind.rawValue, now, target.addressID, target.contactID,
                channel.rawValue, scope.path, list.rawValue, source.rawValue, actor, hold,
            ])
        if !evidence.isEmpty {
            try db.cachedStatement(sql: "INSERT INTO evidence (event_seq, json) VALUES (?, ?)").execute(
                           arguments: [sequence, StoredCoding.json(evidence)])
        }
        return LedgerEvent(
            sequence: sequence, organization: organization.id, kind: kind, recordedAt: StoredCoding.date(now),
            subject: target.subject, channel: channel, scope: scope, list: list, source: source, actor: actor,
            evidence: evidence, hold: hold)
    }
}

