import Foundation
import GRDB
import HushCore

extension SQLiteStore {
    public func suppressions(of address: Address, in organization: OrganizationID) async throws -> [Suppression] {
        let keys = [address.normalized, configuration.erasureKey.hashedKey(for: address.normalized)]
        return try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT s.subject_key, s.channel, s.list_id, s.scope, s.since, s.source, s.event_seq, s.hold
                FROM suppressions s
                -- By address row and by contact, each arm an index (suppressions_address,
                -- suppressions_contact): on subject_key the OR read every suppression (0.1 s at 1 M).
                -- An address row's key is its suppressions' subject key, erased (hashed) or not.
                WHERE s.org_id = ? AND (s.address_id IN (SELECT id FROM addresses WHERE org_id = ? AND key IN (?, ?)) OR s.contact_id IN (
                    SELECT l.contact_id FROM contact_links l JOIN addresses a ON a.id = l.address_id
                    WHERE a.org_id = ? AND a.key IN (?, ?)))
                ORDER BY s.event_seq
                """, arguments: [organization.rawValue, organization.rawValue, keys[0], keys[1], organization.rawValue, keys[0], keys[1]])
                .map { row in
                    try Suppression(
                        organization: organization, subject: SubjectKey(stored: row[0]), channel: StoredCoding.channel(row[1]),
                        list: ListID(rawValue: row[2]), scope: StoredCoding.scope(row[3]), since: StoredCoding.date(row[4]),
                        source: StoredCoding.source(row[5]), eventSequence: row[6], hold: row[7])
                }
        }
    }

    public func entries(of list: ListID, in organization: OrganizationID, after sequence: Int64, limit: Int) async throws -> [Suppression] {
        try await read { db in
            guard try SQLiteStore.activeList(db, list, in: organization) != nil else {
                throw HushError(.notFound, field: "id", "no list \(list) in this organization")
            }
            return try Row.fetchAll(db.cachedStatement(sql: """
                SELECT subject_key, channel, scope, since, source, event_seq, hold FROM suppressions
                WHERE list_id = ? AND event_seq > ? ORDER BY event_seq LIMIT ?
                """), arguments: [list.rawValue, sequence, limit])
                .map { row in
                    try Suppression(
                        organization: organization, subject: SubjectKey(stored: row[0]), channel: StoredCoding.channel(row[1]),
                        list: list, scope: StoredCoding.scope(row[2]), since: StoredCoding.date(row[3]),
                        source: StoredCoding.source(row[4]), eventSequence: row[5], hold: row[6])
                }
        }
    }

    public func events(in organization: OrganizationID, after sequence: Int64, limit: Int, address: Address?) async throws -> [LedgerEvent] {
        let keys = address.map { [$0.normalized, configuration.erasureKey.hashedKey(for: $0.normalized)] }
        return try await read { db in
            var sql = """
                SELECT l.seq, l.kind, l.recorded_at, COALESCE(a.key, '\(SubjectKey.contactPrefix)' || c.external_id) AS subject,
                       l.channel, l.scope, l.list_id, l.source, l.actor, e.json, l.hold
                FROM ledger l
                LEFT JOIN addresses a ON a.id = l.address_id
                LEFT JOIN contacts c ON c.id = l.contact_id
                LEFT JOIN evidence e ON e.event_seq = l.seq
                WHERE \(keys == nil ? "" : "+")l.org_id = ? AND l.seq > ?
                """
            var arguments: StatementArguments = [organization.rawValue, sequence]
            if let keys {
                // By the address's rows (the ledger_address index; `+` keeps the planner off
                // ledger_org): walking the organization's ledger and filtering on the key read
                // the whole ledger, 0.4 s at 1 M events.
                sql += " AND l.address_id IN (SELECT id FROM addresses WHERE org_id = ? AND key IN (?, ?))"
                arguments += [organization.rawValue, keys[0], keys[1]]
            }
            sql += " ORDER BY l.seq LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                try LedgerEvent(
                    sequence: row[0], organization: organization, kind: EventKind(rawValue: row[1]) ?? .optOut,
                    recordedAt: StoredCoding.date(row[2]), subject: SubjectKey(stored: row[3]), channel: StoredCoding.channel(row[4]),
                    scope: StoredCoding.scope(row[5]), list: ListID(rawValue: row[6]), source: StoredCoding.source(row[7]),
                    actor: row[8], evidence: StoredCoding.evidence(row[9]), hold: row[10])
            }
        }
    }

    // MARK: Checks

    public func blocks(for address: Address, in organization: OrganizationID, query: CheckQuery) -> Decision.Blocks {
        indexed.blocks(for: address, in: organization, query: query)
    }

    public func decision(for address: Address, contact: ContactID, in organization: OrganizationID, query: CheckQuery) -> Decision {
        indexed.decision(for: address, contact: contact, in: organization, query: query)
    }

    public func blocks(ofContact contact: ContactID, in organization: OrganizationID, query: CheckQuery) -> [Decision.Block] {
        indexed.blocks(ofContact: contact, in: organization, query: query)
    }

    public func decisions(for addresses: [Address], in organization: OrganizationID, query: CheckQuery) -> [Decision] {
        indexed.decisions(for: addresses, in: organization, query: query)
    }

    public var indexedCount: Int { indexed.indexedCount }

    public func catchUp() async throws {
        try await indexed.catchUp()
    }

    public func appliedSequence() async -> Int64 {
        await indexed.appliedSequence()
    }

    public func waitUntilApplied(_ sequence: Int64, within limit: Duration) async throws -> Bool {
        try await indexed.waitUntilApplied(sequence, within: limit)
    }

    /// Replays the ledger of the address and of the contacts it was linked to by then.
    public func decision(for address: Address, in organization: OrganizationID, query: CheckQuery, asOf date: Date) async throws -> Decision {
        let keys = [address.normalized, configuration.erasureKey.hashedKey(for: address.normalized)]
        let until = StoredCoding.milliseconds(date)
        let events = try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT l.kind, l.recorded_at, l.channel, l.scope, l.list_id, l.source, l.seq, li.is_default, c.external_id, l.hold,
                       li.name
                FROM ledger l
                JOIN lists li ON li.id = l.list_id
                LEFT JOIN contacts c ON c.id = l.contact_id
                -- `+` keeps the planner off ledger_org (the organization's whole ledger): the
                -- address's and its contacts' rows come by ledger_address and ledger_contact.
                WHERE +l.org_id = ? AND l.recorded_at <= ? AND (
                    l.address_id IN (SELECT id FROM addresses WHERE org_id = ? AND key IN (?, ?))
                    OR l.contact_id IN (
                        SELECT cl.contact_id FROM contact_links cl JOIN addresses a ON a.id = cl.address_id
                        WHERE a.org_id = ? AND a.key IN (?, ?) AND cl.linked_at <= ?))
                ORDER BY l.seq
                """, arguments: [
                    organization.rawValue, until, organization.rawValue, keys[0], keys[1],
                    organization.rawValue, keys[0], keys[1], until,
                ])
                .map { row in
                    let contact: String? = row[8]
                    let entry = try IndexEntry(
                        eventSequence: row[6], sinceMilliseconds: row[1], list: ListID(rawValue: row[4]),
                        scope: StoredCoding.scope(row[3]), channel: StoredCoding.channel(row[2]),
                        source: StoredCoding.source(row[5]), listIsDefault: row[7], hold: row[9])
                    return LedgerReplay.Event(
                        kind: try StoredCoding.eventKind(row[0]), sequence: entry.eventSequence,
                        contact: try contact.map { (id) throws(HushError) in try ContactID(parsing: id) },
                        channel: entry.channel, list: entry.list, scope: entry.scope, hold: entry.hold,
                        payload: (entry: entry, listName: row[10] as String))
                }
        }
        let blocks = LedgerReplay.standing(after: events)
            .filter { query.isBlocked(by: $0.channel, scope: $0.scope, list: $0.list, listIsDefault: $0.payload.entry.listIsDefault) }
            .map { $0.payload.entry.block(contact: $0.contact, listName: $0.payload.listName) }
        return Decision(address: address, answering: query, blockedBy: Decision.Blocks(blocks))
    }
}
