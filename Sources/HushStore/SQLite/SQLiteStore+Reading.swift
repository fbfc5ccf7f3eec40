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
                WHERE s.org_id = ? AND (s.subject_key IN (?, ?) OR s.contact_id IN (
                    SELECT l.contact_id FROM contact_links l JOIN addresses a ON a.id = l.address_id
                    WHERE a.org_id = ? AND a.key IN (?, ?)))
                ORDER BY s.event_seq
                """, arguments: [organization.rawValue, keys[0], keys[1], organization.rawValue, keys[0], keys[1]])
                .map { row in
                    try Suppression(
                        organization: organization, subject: Self.subject(row[0]), channel: SQLiteCoding.channel(row[1]),
                        list: ListID(rawValue: row[2]), scope: SQLiteCoding.scope(row[3]), since: SQLiteCoding.date(row[4]),
                        source: SQLiteCoding.source(row[5]), eventSequence: row[6], hold: row[7])
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
                        organization: organization, subject: Self.subject(row[0]), channel: SQLiteCoding.channel(row[1]),
                        list: list, scope: SQLiteCoding.scope(row[2]), since: SQLiteCoding.date(row[3]),
                        source: SQLiteCoding.source(row[4]), eventSequence: row[5], hold: row[6])
                }
        }
    }

    public func events(in organization: OrganizationID, after sequence: Int64, limit: Int, address: Address?) async throws -> [LedgerEvent] {
        let keys = address.map { [$0.normalized, configuration.erasureKey.hashedKey(for: $0.normalized)] }
        return try await read { db in
            var sql = """
                SELECT l.seq, l.kind, l.recorded_at, COALESCE(a.key, 'contact:' || c.external_id) AS subject,
                       l.channel, l.scope, l.list_id, l.source, l.actor, e.json, l.hold
                FROM ledger l
                LEFT JOIN addresses a ON a.id = l.address_id
                LEFT JOIN contacts c ON c.id = l.contact_id
                LEFT JOIN evidence e ON e.event_seq = l.seq
                WHERE l.org_id = ? AND l.seq > ?
                """
            var arguments: StatementArguments = [organization.rawValue, sequence]
            if let keys {
                sql += " AND a.key IN (?, ?)"
                arguments += [keys[0], keys[1]]
            }
            sql += " ORDER BY l.seq LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                try LedgerEvent(
                    sequence: row[0], organization: organization, kind: EventKind(rawValue: row[1]) ?? .optOut,
                    recordedAt: SQLiteCoding.date(row[2]), subject: Self.subject(row[3]), channel: SQLiteCoding.channel(row[4]),
                    scope: SQLiteCoding.scope(row[5]), list: ListID(rawValue: row[6]), source: SQLiteCoding.source(row[7]),
                    actor: row[8], evidence: SQLiteCoding.evidence(row[9]), hold: row[10])
            }
        }
    }

    static func subject(_ key: String) -> SubjectKey {
        key.hasPrefix(IndexKey.contactPrefix) ? .contact(String(key.dropFirst(IndexKey.contactPrefix.count))) : .address(key)
    }

    // MARK: Checks

    public func decision(for address: Address, in organization: OrganizationID, query: CheckQuery) -> Decision {
        index.decision(for: address, in: organization, query: query)
    }

    public func decision(for address: Address, contact: ContactID, in organization: OrganizationID, query: CheckQuery) -> Decision {
        index.decision(for: address, contact: contact, in: organization, query: query)
    }

    public func decisions(for addresses: [Address], in organization: OrganizationID, query: CheckQuery) -> [Decision] {
        addresses.map { index.decision(for: $0, in: organization, query: query) }
    }

    /// Replays the ledger of the address and of the contacts it was linked to by then.
    public func decision(for address: Address, in organization: OrganizationID, query: CheckQuery, asOf date: Date) async throws -> Decision {
        let keys = [address.normalized, configuration.erasureKey.hashedKey(for: address.normalized)]
        let until = SQLiteCoding.milliseconds(date)
        let events = try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT l.kind, l.recorded_at, l.channel, l.scope, l.list_id, l.source, l.seq, li.is_default, c.external_id, l.hold,
                       li.name
                FROM ledger l
                JOIN lists li ON li.id = l.list_id
                LEFT JOIN contacts c ON c.id = l.contact_id
                WHERE l.org_id = ? AND l.recorded_at <= ? AND (
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
                        scope: SQLiteCoding.scope(row[3]), channel: SQLiteCoding.channel(row[2]),
                        source: SQLiteCoding.source(row[5]), listIsDefault: row[7], hold: row[9])
                    return (
                        kind: row[0] as String, entry: entry, listName: row[10] as String,
                        contact: try contact.map { (id) throws(HushError) in try ContactID(parsing: id) })
                }
        }
        // One pass, each event a dictionary step: linear in the address's history.
        struct Standing: Hashable {
            let contact: ContactID?
            let channel: ChannelSelection
            let list: ListID
            let scope: Scope
        }
        var standing: [Standing: (order: Int64, entry: IndexEntry, contact: ContactID?, listName: String)] = [:]
        for event in events {
            let key = Standing(contact: event.contact, channel: event.entry.channel, list: event.entry.list, scope: event.entry.scope)
            if event.kind == EventKind.optOut.rawValue {
                if let held = standing[key] {
                    if event.entry.hold && !held.entry.hold { standing[key] = (held.order, event.entry, event.contact, event.listName) }
                } else {
                    standing[key] = (event.entry.eventSequence, event.entry, event.contact, event.listName)
                }
            } else {
                standing[key] = nil
            }
        }
        let blocks = standing.values.sorted { $0.order < $1.order }
            .filter { query.isBlocked(by: $0.entry.channel, scope: $0.entry.scope, list: $0.entry.list, listIsDefault: $0.entry.listIsDefault) }
            .map { $0.entry.block(contact: $0.contact, listName: $0.listName) }
        return Decision(address: address, channel: query.channel, scope: query.scope, blockedBy: blocks)
    }
}
