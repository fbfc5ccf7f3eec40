import Foundation
import HushCore
import Logging
import PostgresNIO

extension PostgresStore {
    public func suppressions(of address: Address, in organization: OrganizationID) async throws -> [Suppression] {
        let keys = [address.normalized, configuration.erasureKey.hashedKey(for: address.normalized)]
        let logger = self.logger
        return try await read { connection in
            let rows = try await connection.rows("""
                -- Two index paths (the address rows' suppressions, their contacts' suppressions)
                -- rather than one OR, which PostgreSQL can only answer by reading every suppression.
                -- The address is its live row or an erased (hashed) or merged one: each arm of
                -- that OR is one partial index (addresses_live_key, addresses_retired_key).
                SELECT s.subject_key, s.channel, s.list_id, s.scope, s.since, s.source, s.event_seq, s.hold
                FROM addresses a JOIN suppressions s ON s.address_id = a.id
                WHERE a.org_id = \(organization.rawValue)
                  AND ((a.key = \(keys[0]) AND a.erased_at IS NULL AND a.merged_into IS NULL)
                       OR (a.key IN (\(keys[0]), \(keys[1])) AND (a.erased_at IS NOT NULL OR a.merged_into IS NOT NULL)))
                UNION
                SELECT s.subject_key, s.channel, s.list_id, s.scope, s.since, s.source, s.event_seq, s.hold
                FROM addresses a JOIN contact_links l ON l.address_id = a.id JOIN suppressions s ON s.contact_id = l.contact_id
                WHERE a.org_id = \(organization.rawValue)
                  AND ((a.key = \(keys[0]) AND a.erased_at IS NULL AND a.merged_into IS NULL)
                       OR (a.key IN (\(keys[0]), \(keys[1])) AND (a.erased_at IS NOT NULL OR a.merged_into IS NOT NULL)))
                ORDER BY event_seq
                """, logger: logger)
            return try rows.map { row in
                let (subject, channel, list, scope, since, source, sequence, hold) =
                    try row.decode((String, String, Int64, String, Int64, String, Int64, Bool).self)
                return try Suppression(
                    organization: organization, subject: SubjectKey(stored: subject), channel: StoredCoding.channel(channel),
                    list: ListID(rawValue: list), scope: StoredCoding.scope(scope), since: StoredCoding.date(since),
                    source: StoredCoding.source(source), eventSequence: sequence, hold: hold)
            }
        }
    }

    public func entries(of list: ListID, in organization: OrganizationID, after sequence: Int64, limit: Int) async throws -> [Suppression] {
        let logger = self.logger
        return try await read { connection in
            guard try await connection.value("""
                SELECT id FROM lists WHERE id = \(list.rawValue) AND org_id = \(organization.rawValue) AND deleted_at IS NULL
                """, as: Int64.self, logger: logger) != nil
            else {
                throw HushError(.notFound, field: "id", "no list \(list) in this organization")
            }
            let rows = try await connection.rows("""
                SELECT subject_key, channel, scope, since, source, event_seq, hold FROM suppressions
                WHERE list_id = \(list.rawValue) AND event_seq > \(sequence) ORDER BY event_seq LIMIT \(Int64(limit))
                """, logger: logger)
            return try rows.map { row in
                let (subject, channel, scope, since, source, eventSequence, hold) =
                    try row.decode((String, String, String, Int64, String, Int64, Bool).self)
                return try Suppression(
                    organization: organization, subject: SubjectKey(stored: subject), channel: StoredCoding.channel(channel),
                    list: list, scope: StoredCoding.scope(scope), since: StoredCoding.date(since),
                    source: StoredCoding.source(source), eventSequence: eventSequence, hold: hold)
            }
        }
    }

    public func events(in organization: OrganizationID, after sequence: Int64, limit: Int, address: Address?) async throws -> [LedgerEvent] {
        let keys = address.map { [$0.normalized, configuration.erasureKey.hashedKey(for: $0.normalized)] }
        let filtered = keys != nil
        let key = keys?[0] ?? ""
        let hashed = keys?[1] ?? ""
        let logger = self.logger
        return try await read { connection in
            // Without an address the key condition is off (`NOT false`); the unnamed statement
            // is planned with its parameters, so the planner drops it.
            let rows = try await connection.rows("""
                SELECT l.seq, l.kind, l.recorded_at, COALESCE(a.key, \(SubjectKey.contactPrefix)::text || c.external_id) AS subject,
                       l.channel, l.scope, l.list_id, l.source, l.actor, e.json, l.hold
                FROM ledger l
                LEFT JOIN addresses a ON a.id = l.address_id
                LEFT JOIN contacts c ON c.id = l.contact_id
                LEFT JOIN evidence e ON e.event_seq = l.seq
                WHERE l.org_id = \(organization.rawValue) AND l.seq > \(sequence)
                  AND (NOT \(filtered) OR l.address_id IN (
                      SELECT id FROM addresses WHERE org_id = \(organization.rawValue) AND key IN (\(key), \(hashed))))
                ORDER BY l.seq LIMIT \(Int64(limit))
                """, logger: logger)
            return try rows.map { row in
                let (eventSequence, kind, recordedAt, subject, channel, scope, list, source, actor, evidence, hold) =
                    try row.decode((Int64, String, Int64, String, String, String, Int64, String, String, String?, Bool).self)
                return try LedgerEvent(
                    sequence: eventSequence, organization: organization, kind: EventKind(rawValue: kind) ?? .optOut,
                    recordedAt: StoredCoding.date(recordedAt), subject: SubjectKey(stored: subject), channel: StoredCoding.channel(channel),
                    scope: StoredCoding.scope(scope), list: ListID(rawValue: list), source: StoredCoding.source(source),
                    actor: actor, evidence: StoredCoding.evidence(evidence), hold: hold)
            }
        }
    }

    // MARK: Checks

    /// Replays the ledger of the address and of the contacts it was linked to by then.
    public func decision(for address: Address, in organization: OrganizationID, query: CheckQuery, asOf date: Date) async throws -> Decision {
        let keys = [address.normalized, configuration.erasureKey.hashedKey(for: address.normalized)]
        let until = StoredCoding.milliseconds(date)
        let logger = self.logger
        let events = try await read { connection in
            let rows = try await connection.rows("""
                SELECT l.kind, l.recorded_at, l.channel, l.scope, l.list_id, l.source, l.seq, li.is_default, c.external_id, l.hold,
                       li.name
                FROM (
                    -- Two index paths rather than one OR (see `suppressions(of:in:)`).
                    SELECT l.* FROM addresses a JOIN ledger l ON l.address_id = a.id
                    WHERE a.org_id = \(organization.rawValue)
                  AND ((a.key = \(keys[0]) AND a.erased_at IS NULL AND a.merged_into IS NULL)
                       OR (a.key IN (\(keys[0]), \(keys[1])) AND (a.erased_at IS NOT NULL OR a.merged_into IS NOT NULL)))
                    UNION
                    SELECT l.* FROM addresses a JOIN contact_links cl ON cl.address_id = a.id JOIN ledger l ON l.contact_id = cl.contact_id
                    WHERE a.org_id = \(organization.rawValue)
                  AND ((a.key = \(keys[0]) AND a.erased_at IS NULL AND a.merged_into IS NULL)
                       OR (a.key IN (\(keys[0]), \(keys[1])) AND (a.erased_at IS NOT NULL OR a.merged_into IS NOT NULL))) AND cl.linked_at <= \(until)
                ) l
                JOIN lists li ON li.id = l.list_id
                LEFT JOIN contacts c ON c.id = l.contact_id
                WHERE l.org_id = \(organization.rawValue) AND l.recorded_at <= \(until)
                ORDER BY l.seq
                """, logger: logger)
            return try rows.map { row in
                let (kind, recordedAt, channel, scope, list, source, sequence, isDefault, contact, hold, listName) =
                    try row.decode((String, Int64, String, String, Int64, String, Int64, Bool, String?, Bool, String).self)
                let entry = try IndexEntry(
                    eventSequence: sequence, sinceMilliseconds: recordedAt, list: ListID(rawValue: list),
                    scope: StoredCoding.scope(scope), channel: StoredCoding.channel(channel),
                    source: StoredCoding.source(source), listIsDefault: isDefault, hold: hold)
                return LedgerReplay.Event(
                    kind: try StoredCoding.eventKind(kind), sequence: entry.eventSequence,
                    contact: try contact.map { (id) throws(HushError) in try ContactID(parsing: id) },
                    channel: entry.channel, list: entry.list, scope: entry.scope, hold: entry.hold,
                    payload: (entry: entry, listName: listName))
            }
        }
        let blocks = LedgerReplay.standing(after: events)
            .filter { query.isBlocked(by: $0.channel, scope: $0.scope, list: $0.list, listIsDefault: $0.payload.entry.listIsDefault) }
            .map { $0.payload.entry.block(contact: $0.contact, listName: $0.payload.listName) }
        return Decision(address: address, answering: query, blockedBy: Decision.Blocks(blocks))
    }
}
