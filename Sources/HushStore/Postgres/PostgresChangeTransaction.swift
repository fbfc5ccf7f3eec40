import Foundation
import HushCore
import Logging
import PostgresNIO

/// One write transaction's worth of opt-outs and opt-ins on PostgreSQL: the rules are
/// `ChangeRules`'; this appends ledger events, updates the projection and collects what the
/// index must apply, set-wise (`UNNEST` arrays: one statement per table per batch). Positions
/// are taken from the ledger head once, which is safe because the transaction holds the append
/// lock (`PostgresDatabase.write`) from before it reads the head until it commits.
struct PostgresChangeTransaction {
    let connection: PostgresConnection
    let logger: Logger
    private let organization: Organization
    private let now: Int64
    private var nextSequence: Int64
    private var knownLists: [ListID: ListFacts?] = [:]
    private var outbox: PostgresOutbox
    private(set) var changes: [IndexChange] = []

    init(_ connection: PostgresConnection, logger: Logger, organization: OrganizationID, now: Int64) async throws {
        self.connection = connection
        self.logger = logger
        self.organization = try await PostgresStore.requireOrganization(connection, organization, logger: logger)
        self.now = now
        self.outbox = PostgresOutbox(connection, logger: logger, organization: organization, now: StoredCoding.date(now))
        self.nextSequence = try await connection.value("SELECT COALESCE(MAX(seq), 0) + 1 FROM ledger", as: Int64.self, logger: logger) ?? 1
    }

    /// One group of opt-out requests in one transaction (see `GroupCommit`). The requests of
    /// one organization are written together, set-wise: one statement per table for the whole
    /// group, not per request, since every statement is a round trip to the server. A request
    /// the rules refuse fails alone (`GroupCommit.RequestFailed`), with the error it would have
    /// had on its own.
    static func commit(
        _ group: [GroupCommit.Work], _ connection: PostgresConnection, logger: Logger, now: Int64
    ) async throws -> ([[OptOutOutcome]], [IndexChange]) {
        var outcomes = [[OptOutOutcome]](repeating: [], count: group.count)
        var changes: [IndexChange] = []
        var organizations: [OrganizationID] = []
        var offsetsOf: [OrganizationID: [Int]] = [:]
        for (offset, work) in group.enumerated() {
            if offsetsOf[work.organization] == nil { organizations.append(work.organization) }
            offsetsOf[work.organization, default: []].append(offset)
        }
        for organization in organizations {
            let offsets = offsetsOf[organization]!
            do {
                var transaction = try await PostgresChangeTransaction(connection, logger: logger, organization: organization, now: now)
                let written = try await transaction.record(requests: offsets.map { group[$0].optOuts })
                for (offset, outcome) in zip(offsets, written) { outcomes[offset] = outcome }
                changes += transaction.changes
            } catch let failure as RequestFailure {
                throw GroupCommit.RequestFailed(offset: offsets[failure.request], error: failure.error)
            } catch let error as HushError where error.code != .storage {
                throw GroupCommit.RequestFailed(offset: offsets[0], error: error)
            }
        }
        return (outcomes, changes)
    }

    /// Request `request` of a group was refused by the rules.
    struct RequestFailure: Error {
        let request: Int
        let error: HushError
    }

    /// Records opt-outs set-wise. A batch's error names its item (`items[3].channel`);
    /// `firstItem` numbers the items when they are part of a larger whole (an import).
    mutating func record(_ optOuts: [OptOut], firstItem: Int? = nil) async throws -> [OptOutOutcome] {
        do {
            return try await record(requests: [optOuts], firstItem: firstItem)[0]
        } catch let failure as RequestFailure {
            throw failure.error
        }
    }

    /// Records several requests' opt-outs as one set: each request's outcomes, in order. An
    /// error names its request and, within it, its item as that request alone would have.
    mutating func record(requests: [[OptOut]], firstItem: Int? = nil) async throws -> [[OptOutOutcome]] {
        let itemized = requests.map { $0.count > 1 || firstItem != nil }
        var plans: [PlannedOptOut] = []
        var requestOfPlan: [Int] = []
        var itemOfPlan: [Int] = []
        plans.reserveCapacity(requests.reduce(0) { $0 + $1.count })
        for (request, optOuts) in requests.enumerated() {
            for (offset, optOut) in optOuts.enumerated() {
                do {
                    let list = try await listFacts(optOut.list ?? organization.defaultList)
                    plans.append(try ChangeRules.plan(optOut, in: organization, list: list))
                    requestOfPlan.append(request)
                    itemOfPlan.append(offset)
                } catch let error as HushError {
                    throw RequestFailure(request: request, error: itemized[request] ? error.inItem((firstItem ?? 0) + offset) : error)
                }
            }
        }
        let addressIDs = try await addressRows(plans.compactMap { plan in
            if case .address(let address) = plan.optOut.subject { address } else { nil }
        })

        let linked = try await contacts(ofAddresses: Set(plans.compactMap { plan -> Int64? in
            guard plan.reachesLinkedContacts, case .address(let address) = plan.optOut.subject else { return nil }
            return addressIDs[address.normalized]
        }))
        var targetsOfPlan: [[StoredTarget]] = []
        targetsOfPlan.reserveCapacity(plans.count)
        for plan in plans {
            switch plan.optOut.subject {
            case .address(let address):
                let addressID = addressIDs[address.normalized]!
                var targets = [StoredTarget(addressID: addressID, contactID: nil, key: address.normalized)]
                if plan.reachesLinkedContacts {
                    targets += (linked[addressID] ?? []).map {
                        StoredTarget(addressID: nil, contactID: $0.rowID, key: SubjectKey.contact($0.externalID).stored)
                    }
                }
                targetsOfPlan.append(targets)
            case .contact(let contact):
                let contactID = try await PostgresStore.contactRow(connection, contact, in: organization.id, now: now, logger: logger)
                targetsOfPlan.append([StoredTarget(addressID: nil, contactID: contactID, key: SubjectKey.contact(contact.externalID).stored)])
            }
        }

        let inForce = try await existingSuppressions(Set(zip(plans, targetsOfPlan).flatMap { plan, targets in
            targets.map { StoredSuppressionKey($0, plan) }
        }))
        let writes = OptOutWrites(
            plans, targets: targetsOfPlan, inForce: inForce, organization: organization.id, now: StoredCoding.date(now),
            firstSequence: nextSequence)
        nextSequence = writes.nextSequence
        changes += writes.changes
        let written = writes.written
        let outcomes = writes.outcomes
        // The requests' outcomes, in order: as many as each request had items.
        var outcomesOfRequests = [[OptOutOutcome]](repeating: [], count: requests.count)
        for (request, outcome) in zip(requestOfPlan, outcomes) { outcomesOfRequests[request].append(outcome) }

        for key in writes.replaced {
            try await connection.rows("""
                DELETE FROM suppressions
                WHERE (address_id = \(key.addressID) OR contact_id = \(key.contactID)) AND channel = \(key.channel.rawValue)
                  AND list_id = \(key.list.rawValue) AND scope = \(key.scope.path)
                """, logger: logger)
        }
        if !written.isEmpty {
            let sequences = written.map(\.suppression.eventSequence)
            let addressColumn = written.map { $0.target.addressID ?? 0 }
            let contactColumn = written.map { $0.target.contactID ?? 0 }
            let channels = written.map(\.plan.channel.rawValue)
            let scopes = written.map(\.plan.optOut.scope.path)
            let lists = written.map(\.plan.list.id.rawValue)
            let sources = written.map(\.plan.optOut.source.rawValue)
            let actors = written.map(\.plan.optOut.actor)
            let holds = written.map(\.plan.optOut.hold)
            let keys = written.map(\.target.key)
            try await connection.rows("""
                INSERT INTO ledger (seq, org_id, kind, recorded_at, address_id, contact_id, channel, scope, list_id, source, actor, hold)
                SELECT s, \(organization.id.rawValue), 'opt_out', \(now), NULLIF(a, 0), NULLIF(c, 0), ch, sc, li, so, ac, h
                FROM UNNEST(\(sequences)::bigint[], \(addressColumn)::bigint[], \(contactColumn)::bigint[], \(channels)::text[],
                            \(scopes)::text[], \(lists)::bigint[], \(sources)::text[], \(actors)::text[], \(holds)::boolean[])
                     AS t(s, a, c, ch, sc, li, so, ac, h)
                """, logger: logger)
            try await connection.rows("""
                INSERT INTO suppressions (org_id, address_id, contact_id, subject_key, channel, list_id, scope, since, source, event_seq, hold)
                SELECT \(organization.id.rawValue), NULLIF(a, 0), NULLIF(c, 0), k, ch, li, sc, \(now), so, s, h
                FROM UNNEST(\(sequences)::bigint[], \(addressColumn)::bigint[], \(contactColumn)::bigint[], \(keys)::text[],
                            \(channels)::text[], \(scopes)::text[], \(lists)::bigint[], \(sources)::text[], \(holds)::boolean[])
                     AS t(s, a, c, k, ch, sc, li, so, h)
                """, logger: logger)
        }
        if let full = try await addressesOverLimit(writes.limitedAddresses).first {
            let first = plans.firstIndex { plan in
                if case .address(let address) = plan.optOut.subject { addressIDs[address.normalized] == full } else { false }
            } ?? 0
            let error = ChangeRules.overLimit()
            let request = requestOfPlan[first]
            throw RequestFailure(request: request, error: itemized[request] ? error.inItem((firstItem ?? 0) + itemOfPlan[first]) : error)
        }
        let evidence = try written.filter { !$0.plan.optOut.evidence.isEmpty }.map { row in
            (row.suppression.eventSequence, try StoredCoding.json(row.plan.optOut.evidence))
        }
        if !evidence.isEmpty {
            try await connection.rows("""
                INSERT INTO evidence (event_seq, json)
                SELECT * FROM UNNEST(\(evidence.map(\.0))::bigint[], \(evidence.map(\.1))::text[])
                """, logger: logger)
        }
        if try await outbox.isListening() {
            try await announce(outcomes.flatMap(\.events), addressIDs: written.map(\.target.addressID))
        }
        return outcomesOfRequests
    }

    /// Puts the events in the webhook outbox, in this transaction. `given` names the address in
    /// clear when the event's subject is an erased one's hash.
    private mutating func announce(_ events: [LedgerEvent], addressIDs: [Int64?], address given: String? = nil) async throws {
        guard !events.isEmpty, try await outbox.isListening() else { return }
        let announced = events.map { event in
            let address: String? = if case .address(let key) = event.subject { given ?? key } else { nil }
            return WebhookEvent(event, address: address, listName: knownLists[event.list]??.name ?? "")
        }
        try await outbox.enqueue(announced, addressIDs: addressIDs, now: now)
    }

    mutating func record(_ optIn: OptIn, erasureKey: ErasureKey) async throws -> OptInOutcome {
        let list = optIn.list ?? organization.defaultList
        let isDefault = try ChangeRules.check(list, await listFacts(list), covers: optIn.channel).isDefault
        var targets: [StoredTarget] = []
        switch optIn.subject {
        case .address(let address):
            // The live address, and its erased hash: a person who was erased can still come back.
            let hashed = erasureKey.hashedKey(for: address.normalized)
            for try await (id, key) in try await connection.query("""
                SELECT id, key FROM addresses
                WHERE org_id = \(organization.id.rawValue)
                  AND ((key = \(address.normalized) AND erased_at IS NULL) OR (key = \(hashed) AND erased_at IS NOT NULL))
                """, logger: logger).decode((Int64, String).self) {
                targets.append(StoredTarget(addressID: id, contactID: nil, key: key))
            }
        case .contact(let contact):
            if let id = try await connection.value("""
                SELECT id FROM contacts WHERE org_id = \(organization.id.rawValue) AND external_id = \(contact.externalID)
                """, as: Int64.self, logger: logger) {
                targets = [StoredTarget(addressID: nil, contactID: id, key: SubjectKey.contact(contact.externalID).stored)]
            }
        }
        for target in targets {
            let rows = try await connection.rows("""
                SELECT id, since, source, event_seq, hold FROM suppressions
                WHERE (address_id = \(target.addressID) OR contact_id = \(target.contactID)) AND channel = \(optIn.channel.rawValue)
                  AND list_id = \(list.rawValue) AND scope = \(optIn.scope.path)
                """, logger: logger)
            guard let row = rows.first else { continue }
            let (rowID, since, source, sequence, hold) = try row.decode((Int64, Int64, String, Int64, Bool).self)
            let suppression = try Suppression(
                organization: organization.id, subject: target.subject, channel: optIn.channel, list: list,
                scope: optIn.scope, since: StoredCoding.date(since), source: StoredCoding.source(source),
                eventSequence: sequence, hold: hold)
            // The one place that decides who lifts what (DESIGN rule 2).
            guard ChangeRules.lifts(optIn, suppression) else { continue }
            try await connection.rows("DELETE FROM suppressions WHERE id = \(rowID)", logger: logger)
            let eventSequence = nextSequence
            nextSequence += 1
            let event = try await appendEvent(
                .optIn, sequence: eventSequence, target: target, channel: optIn.channel, scope: optIn.scope, list: list,
                source: optIn.source, actor: optIn.actor, evidence: optIn.evidence, hold: suppression.hold)
            changes.append(.remove(IndexKey(organization.id, target.key), IndexEntry(suppression, listIsDefault: isDefault)))
            let given: String? = if case .address(let address) = optIn.subject { address.normalized } else { nil }
            try await announce([event], addressIDs: [target.addressID], address: given)
            return OptInOutcome(lifted: suppression, event: event)
        }
        return OptInOutcome(lifted: nil, event: nil)
    }

    // MARK: Rows

    
    /// What the rules need of a list: nil when it is not an active list of this organization.
    private mutating func listFacts(_ list: ListID) async throws -> ListFacts? {
        if let known = knownLists[list] { return known }
        let rows = try await connection.rows("""
            SELECT is_default, name, channels FROM lists WHERE id = \(list.rawValue) AND org_id = \(organization.id.rawValue) AND deleted_at IS NULL
            """, logger: logger)
        let facts = try rows.first.map { row in
            let (isDefault, name, channels) = try row.decode((Bool, String, String).self)
            return ListFacts(id: list, isDefault: isDefault, name: name, channels: try StoredCoding.channels(channels))
        }
        knownLists[list] = facts
        if let facts { changes.append(.name(list, facts.name)) }
        return facts
    }

    func addressRow(_ address: Address) async throws -> Int64 {
        guard let id = try await addressRows([address])[address.normalized] else {
            throw HushError(.storage, "the address row was not written")
        }
        return id
    }

    /// The live row of each address, created when missing: normalized address to row id.
    func addressRows(_ addresses: [Address]) async throws -> [String: Int64] {
        var seen = Set<String>()
        let unique = addresses.filter { seen.insert($0.normalized).inserted }
        guard !unique.isEmpty else { return [:] }
        var ids: [String: Int64] = Dictionary(minimumCapacity: unique.count)
        let keys = unique.map(\.normalized)
        // The select beside the insert reads the rows that were there before this statement;
        // the insert returns the ones it made: together, every address once.
        let rows = try await connection.query("""
            WITH given AS (
                SELECT * FROM UNNEST(\(unique.map(\.kind.rawValue))::text[], \(keys)::text[], \(unique.map(\.input))::text[]) AS t(kind, key, display)
            ), made AS (
                INSERT INTO addresses (org_id, kind, key, display)
                SELECT \(organization.id.rawValue), kind, key, display FROM given
                ON CONFLICT (org_id, key) WHERE erased_at IS NULL AND merged_into IS NULL DO NOTHING
                RETURNING id, key
            )
            SELECT id, key FROM made
            UNION ALL
            SELECT a.id, a.key FROM addresses a JOIN given g ON a.key = g.key
            WHERE a.org_id = \(organization.id.rawValue) AND a.erased_at IS NULL AND a.merged_into IS NULL
            """, logger: logger)
        for try await (id, key) in rows.decode((Int64, String).self) {
            ids[key] = id
        }
        guard ids.count == unique.count else { throw HushError(.storage, "an address row was not written") }
        return ids
    }

    /// The contacts each address row is linked to: one query for all of them.
    private func contacts(ofAddresses addresses: Set<Int64>) async throws -> [Int64: [(rowID: Int64, externalID: String)]] {
        guard !addresses.isEmpty else { return [:] }
        var contacts: [Int64: [(rowID: Int64, externalID: String)]] = [:]
        for try await (address, id, externalID) in try await connection.query("""
            SELECT l.address_id, c.id, c.external_id FROM contact_links l JOIN contacts c ON c.id = l.contact_id
            WHERE l.address_id = ANY(\(Array(addresses))::bigint[])
            ORDER BY l.id
            """, logger: logger).decode((Int64, Int64, String).self) {
            contacts[address, default: []].append((id, externalID))
        }
        return contacts
    }

    /// The suppressions already in force among `keys`.
    private func existingSuppressions(_ keys: Set<StoredSuppressionKey>) async throws -> [StoredSuppressionKey: Suppression] {
        var found: [StoredSuppressionKey: Suppression] = [:]
        for column in ["address_id", "contact_id"] {
            let wanted = keys.filter { (column == "address_id" ? $0.addressID : $0.contactID) != nil }
            guard !wanted.isEmpty else { continue }
            let rows = try await connection.query("""
                SELECT s.address_id, s.contact_id, s.subject_key, s.channel, s.list_id, s.scope, s.since, s.source, s.event_seq, s.hold
                FROM UNNEST(\(wanted.map { $0.addressID ?? $0.contactID ?? 0 })::bigint[], \(wanted.map(\.channel.rawValue))::text[],
                            \(wanted.map(\.list.rawValue))::bigint[], \(wanted.map(\.scope.path))::text[]) AS v(id, channel, list_id, scope)
                JOIN suppressions s ON s.\(unescaped: column) = v.id AND s.channel = v.channel AND s.list_id = v.list_id AND s.scope = v.scope
                """, logger: logger)
            for try await row in rows {
                let (addressID, contactID, subject, channel, list, scope, since, source, sequence, hold) =
                    try row.decode((Int64?, Int64?, String, String, Int64, String, Int64, String, Int64, Bool).self)
                let key = try StoredSuppressionKey(
                    addressID: addressID, contactID: contactID, channel: StoredCoding.channel(channel),
                    list: ListID(rawValue: list), scope: StoredCoding.scope(scope))
                found[key] = try Suppression(
                    organization: organization.id, subject: SubjectKey(stored: subject), channel: key.channel,
                    list: key.list, scope: key.scope, since: StoredCoding.date(since),
                    source: StoredCoding.source(source), eventSequence: sequence, hold: hold)
            }
        }
        return found
    }

    /// Among `addressIDs`, those with more suppressions in force than the limit, counted after
    /// this transaction's writes.
    private func addressesOverLimit(_ addressIDs: Set<Int64>) async throws -> [Int64] {
        guard !addressIDs.isEmpty else { return [] }
        let limit = ChangeRules.maximumSuppressionsPerAddress
        var over: [Int64] = []
        for try await id in try await connection.query("""
            SELECT v.id FROM UNNEST(\(Array(addressIDs))::bigint[]) AS v(id)
            WHERE (SELECT COUNT(*) FROM (SELECT 1 FROM suppressions s WHERE s.address_id = v.id LIMIT \(limit + 1)) x) > \(limit)
            """, logger: logger).decode(Int64.self) {
            over.append(id)
        }
        return over
    }

    private func appendEvent(
        _ kind: EventKind, sequence: Int64, target: StoredTarget, channel: ChannelSelection, scope: Scope, list: ListID,
        source: Source, actor: String, evidence: Evidence, hold: Bool
    ) async throws -> LedgerEvent {
        try await connection.rows("""
            INSERT INTO ledger (seq, org_id, kind, recorded_at, address_id, contact_id, channel, scope, list_id, source, actor, hold)
            VALUES (\(sequence), \(organization.id.rawValue), \(kind.rawValue), \(now), \(target.addressID), \(target.contactID),
                    \(channel.rawValue), \(scope.path), \(list.rawValue), \(source.rawValue), \(actor), \(hold))
            """, logger: logger)
        if !evidence.isEmpty {
            try await connection.rows("INSERT INTO evidence (event_seq, json) VALUES (\(sequence), \(try StoredCoding.json(evidence)))", logger: logger)
        }
        return LedgerEvent(
            sequence: sequence, organization: organization.id, kind: kind, recordedAt: StoredCoding.date(now),
            subject: target.subject, channel: channel, scope: scope, list: list, source: source, actor: actor,
            evidence: evidence, hold: hold)
    }
}

