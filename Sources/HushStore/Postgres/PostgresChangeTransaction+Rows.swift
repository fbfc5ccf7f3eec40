import Foundation
import HushCore
import Logging
import PostgresNIO

/// The rows an opt-out transaction reads and writes on PostgreSQL, set-wise: each helper is one
/// statement, so one round trip, whatever the number of opt-outs.
extension PostgresChangeTransaction {
    func addressRow(_ address: Address) async throws -> Int64 {
        guard let id = try await addressRows([address]).ids[address.normalized] else {
            throw HushError(.storage, "the address row was not written")
        }
        return id
    }

    /// The live row of each address, created when missing: normalized address to row id, and
    /// the rows this statement made (a new row has no links and no suppressions yet).
    func addressRows(_ addresses: [Address]) async throws -> (ids: [String: Int64], made: Set<Int64>) {
        var seen = Set<String>()
        let unique = addresses.filter { seen.insert($0.normalized).inserted }
        guard !unique.isEmpty else { return ([:], []) }
        var ids: [String: Int64] = Dictionary(minimumCapacity: unique.count)
        var made = Set<Int64>()
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
            SELECT id, key, true FROM made
            UNION ALL
            SELECT a.id, a.key, false FROM addresses a JOIN given g ON a.key = g.key
            WHERE a.org_id = \(organization.id.rawValue) AND a.erased_at IS NULL AND a.merged_into IS NULL
            """, logger: logger)
        for try await (id, key, isNew) in rows.decode((Int64, String, Bool).self) {
            ids[key] = id
            if isNew { made.insert(id) }
        }
        guard ids.count == unique.count else { throw HushError(.storage, "an address row was not written") }
        return (ids, made)
    }

    /// In one statement: the contacts linked to the existing addresses of plans that reach
    /// linked contacts (in link order), and the suppressions in force among every target's keys
    /// (the addresses', their linked contacts', the contacts'). Rows made in this transaction
    /// have neither, so a set of new addresses costs no round trip.
    func linksAndSuppressions(
        _ plans: [PlannedOptOut], addressIDs: [String: Int64], made: Set<Int64>, contactIDs: [Int: Int64]
    ) async throws -> (linked: [Int64: [(rowID: Int64, externalID: String)]], inForce: [StoredSuppressionKey: Suppression]) {
        var byAddress = KeyColumns()
        var viaLinks = KeyColumns()
        var byContact = KeyColumns()
        var linkedAddresses = Set<Int64>()
        for (offset, plan) in plans.enumerated() {
            switch plan.optOut.subject {
            case .address(let address):
                let id = addressIDs[address.normalized]!
                guard !made.contains(id) else { continue }
                byAddress.append(id, plan)
                if plan.reachesLinkedContacts {
                    viaLinks.append(id, plan)
                    linkedAddresses.insert(id)
                }
            case .contact:
                byContact.append(contactIDs[offset]!, plan)
            }
        }
        var linked: [Int64: [(rowID: Int64, externalID: String)]] = [:]
        var found: [StoredSuppressionKey: Suppression] = [:]
        guard !byAddress.ids.isEmpty || !byContact.ids.isEmpty else { return (linked, found) }
        let suppressionColumns = "s.address_id, s.contact_id, s.subject_key, s.channel, s.list_id, s.scope, s.since, s.source, s.event_seq, s.hold"
        let rows = try await connection.query("""
            SELECT 0, l.id, l.address_id, c.id, c.external_id, NULL::text, NULL::bigint, NULL::text, NULL::bigint, NULL::text, NULL::bigint, NULL::boolean
            FROM contact_links l JOIN contacts c ON c.id = l.contact_id
            WHERE l.address_id = ANY(\(Array(linkedAddresses))::bigint[])
            UNION ALL
            SELECT 1, 0, \(unescaped: suppressionColumns)
            FROM UNNEST(\(byAddress.ids)::bigint[], \(byAddress.channels)::text[], \(byAddress.lists)::bigint[], \(byAddress.scopes)::text[])
                 AS v(id, channel, list_id, scope)
            JOIN suppressions s ON s.address_id = v.id AND s.channel = v.channel AND s.list_id = v.list_id AND s.scope = v.scope
            UNION ALL
            SELECT 1, 0, \(unescaped: suppressionColumns)
            FROM UNNEST(\(viaLinks.ids)::bigint[], \(viaLinks.channels)::text[], \(viaLinks.lists)::bigint[], \(viaLinks.scopes)::text[])
                 AS v(id, channel, list_id, scope)
            JOIN contact_links l ON l.address_id = v.id
            JOIN suppressions s ON s.contact_id = l.contact_id AND s.channel = v.channel AND s.list_id = v.list_id AND s.scope = v.scope
            UNION ALL
            SELECT 1, 0, \(unescaped: suppressionColumns)
            FROM UNNEST(\(byContact.ids)::bigint[], \(byContact.channels)::text[], \(byContact.lists)::bigint[], \(byContact.scopes)::text[])
                 AS v(id, channel, list_id, scope)
            JOIN suppressions s ON s.contact_id = v.id AND s.channel = v.channel AND s.list_id = v.list_id AND s.scope = v.scope
            ORDER BY 1, 2
            """, logger: logger)
        for try await row in rows {
            let (part, _, addressID, contactID, text, channel, list, scope, since, source, sequence, hold) =
                try row.decode((Int32, Int64, Int64?, Int64?, String?, String?, Int64?, String?, Int64?, String?, Int64?, Bool?).self)
            if part == 0 {
                guard let addressID, let contactID, let text else { continue }
                linked[addressID, default: []].append((contactID, text))
                continue
            }
            guard let text, let channel, let list, let scope, let since, let source, let sequence, let hold else { continue }
            let key = try StoredSuppressionKey(
                addressID: addressID, contactID: contactID, channel: StoredCoding.channel(channel),
                list: ListID(rawValue: list), scope: StoredCoding.scope(scope))
            found[key] = try Suppression(
                organization: organization.id, subject: SubjectKey(stored: text), channel: key.channel,
                list: key.list, scope: key.scope, since: StoredCoding.date(since),
                source: StoredCoding.source(source), eventSequence: sequence, hold: hold)
        }
        return (linked, found)
    }

    /// Appends `writes`' ledger events, suppressions and evidence and notifies the other nodes,
    /// in one statement; returns the addresses now over the limit of suppressions in force. An
    /// address made in this transaction holds only what was just written, counted here; the
    /// others are counted by the same statement (its snapshot predates its own inserts, so it
    /// adds them).
    func append(_ writes: OptOutWrites, made: Set<Int64>) async throws -> [Int64] {
        let written = writes.written
        guard !written.isEmpty else { return [] }
        let limit = ChangeRules.maximumSuppressionsPerAddress
        var gained: [Int64: Int64] = [:]
        for row in written { if let id = row.target.addressID { gained[id, default: 0] += 1 } }
        let limited = writes.limitedAddresses
        var over = limited.filter { made.contains($0) && gained[$0, default: 0] > limit }.sorted()
        let counted = limited.filter { !made.contains($0) }.sorted()

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
        let evidence = try written.filter { !$0.plan.optOut.evidence.isEmpty }.map { row in
            (row.suppression.eventSequence, try StoredCoding.json(row.plan.optOut.evidence))
        }
        let rows = try await connection.rows("""
            WITH events AS (
                INSERT INTO ledger (seq, org_id, kind, recorded_at, address_id, contact_id, channel, scope, list_id, source, actor, hold)
                SELECT s, \(organization.id.rawValue), 'opt_out', \(now), NULLIF(a, 0), NULLIF(c, 0), ch, sc, li, so, ac, h
                FROM UNNEST(\(sequences)::bigint[], \(addressColumn)::bigint[], \(contactColumn)::bigint[], \(channels)::text[],
                            \(scopes)::text[], \(lists)::bigint[], \(sources)::text[], \(actors)::text[], \(holds)::boolean[])
                     AS t(s, a, c, ch, sc, li, so, ac, h)
            ), suppressed AS (
                INSERT INTO suppressions (org_id, address_id, contact_id, subject_key, channel, list_id, scope, since, source, event_seq, hold)
                SELECT \(organization.id.rawValue), NULLIF(a, 0), NULLIF(c, 0), k, ch, li, sc, \(now), so, s, h
                FROM UNNEST(\(sequences)::bigint[], \(addressColumn)::bigint[], \(contactColumn)::bigint[], \(keys)::text[],
                            \(channels)::text[], \(scopes)::text[], \(lists)::bigint[], \(sources)::text[], \(holds)::boolean[])
                     AS t(s, a, c, k, ch, sc, li, so, h)
            ), proven AS (
                INSERT INTO evidence (event_seq, json)
                SELECT * FROM UNNEST(\(evidence.map(\.0))::bigint[], \(evidence.map(\.1))::text[])
            )
            SELECT ARRAY(SELECT v.id FROM UNNEST(\(counted)::bigint[], \(counted.map { gained[$0, default: 0] })::bigint[]) AS v(id, gained)
                         WHERE v.gained + (SELECT COUNT(*) FROM (SELECT 1 FROM suppressions s WHERE s.address_id = v.id LIMIT \(limit + 1)) x)
                               > \(limit))
            FROM pg_notify(\(PostgresStore.changesChannel), '')
            """, logger: logger)
        if let row = rows.first {
            over += try row.decode([Int64].self)
        }
        return over
    }
}

/// Parallel columns of suppression keys, for an `UNNEST` join.
private struct KeyColumns {
    var ids: [Int64] = []
    var channels: [String] = []
    var lists: [Int64] = []
    var scopes: [String] = []

    mutating func append(_ id: Int64, _ plan: PlannedOptOut) {
        ids.append(id)
        channels.append(plan.channel.rawValue)
        lists.append(plan.list.id.rawValue)
        scopes.append(plan.optOut.scope.path)
    }
}
