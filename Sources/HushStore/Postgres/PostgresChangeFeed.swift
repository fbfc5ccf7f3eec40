import Foundation
import HushCore
import Logging
import PostgresNIO

/// Reads the ledger, contact links and erasures of a PostgreSQL database for the index. The
/// ordering contract holds because every append takes `PostgresSchema.appendLock` before it
/// allocates a position and keeps it until commit: positions commit in order.
struct PostgresChangeFeed: ChangeFeed {
    let client: PostgresClient
    let logger: Logger

    func head() async throws -> FeedPosition {
        try await client.withConnection { try await Self.head($0, logger: logger) }
    }

    static func head(_ connection: PostgresConnection, logger: Logger) async throws -> FeedPosition {
        let rows = try await connection.rows("""
            SELECT (SELECT COALESCE(MAX(seq), 0) FROM ledger)::bigint,
                   (SELECT COALESCE(MAX(id), 0) FROM contact_links)::bigint,
                   (SELECT COALESCE(MAX(id), 0) FROM erasures)::bigint
            """, logger: logger)
        guard let row = rows.first else { return .start }
        let (ledger, links, erasures) = try row.decode((Int64, Int64, Int64).self)
        return FeedPosition(ledger: ledger, links: links, erasures: erasures)
    }

    func changes(after position: FeedPosition, limit: Int) async throws -> ChangeBatch {
        try await client.withConnection { connection in
            // One snapshot for the three reads, as SQLite's read transaction is: an erasure that
            // committed between them would be applied before events read under the clear key.
            try await Self.inRepeatableRead(connection, logger: logger) {
                try await Self.changes(after: position, limit: limit, connection, logger: logger)
            }
        }
    }

    private static func changes(after position: FeedPosition, limit: Int, _ connection: PostgresConnection, logger: Logger) async throws -> ChangeBatch {
        var batch = ChangeBatch(changes: [], position: position)
        var named: Set<ListID> = []
        let events = try await connection.query("""
            SELECT l.seq, l.org_id, l.kind, l.recorded_at,
                   COALESCE(a.key, \(SubjectKey.contactPrefix) || c.external_id), l.channel, l.scope, l.list_id, l.source,
                   li.is_default, l.hold, li.name
            FROM ledger l
            LEFT JOIN addresses a ON a.id = l.address_id
            LEFT JOIN contacts c ON c.id = l.contact_id
            JOIN lists li ON li.id = l.list_id
            WHERE l.seq > \(position.ledger) ORDER BY l.seq LIMIT \(limit)
            """, logger: logger)
        for try await row in events {
            let (sequence, organization, kind, recordedAt, subject, channel, scope, list, source, isDefault, hold, name) =
                try row.decode((Int64, Int64, String, Int64, String, String, String, Int64, String, Bool, Bool, String).self)
            let listID = ListID(rawValue: list)
            if named.insert(listID).inserted { batch.changes.append(.name(listID, name)) }
            let entry = try IndexEntry(
                eventSequence: sequence, sinceMilliseconds: recordedAt, list: listID, scope: StoredCoding.scope(scope),
                channel: StoredCoding.channel(channel), source: StoredCoding.source(source), listIsDefault: isDefault, hold: hold)
            let key = IndexKey(OrganizationID(rawValue: organization), subject)
            batch.changes.append(kind == EventKind.optOut.rawValue ? .add(key, entry) : .remove(key, entry))
            batch.position.ledger = sequence
        }
        let links = try await connection.query("""
            SELECT l.id, c.org_id, a.key, c.external_id
            FROM contact_links l JOIN contacts c ON c.id = l.contact_id JOIN addresses a ON a.id = l.address_id
            WHERE l.id > \(position.links) ORDER BY l.id
            """, logger: logger)
        for try await row in links {
            let (id, organization, key, contact) = try row.decode((Int64, Int64, String, String).self)
            try batch.changes.append(.link(IndexKey(OrganizationID(rawValue: organization), key), ContactID(parsing: contact)))
            batch.position.links = id
        }
        let erasures = try await connection.query("""
            SELECT id, org_id, erased_key, event_seqs, contact_ids FROM erasures WHERE id > \(position.erasures) ORDER BY id
            """, logger: logger)
        var erased: [IndexChange] = []
        for try await row in erasures {
            let (id, organization, hashedKey, sequences, contacts) = try row.decode((Int64, Int64, String, String, String).self)
            let contactIDs = try JSONDecoder().decode([String].self, from: Data(contacts.utf8))
            try erased.append(.erase(IndexChange.Erasure(
                organization: OrganizationID(rawValue: organization), hashedKey: hashedKey,
                eventSequences: Set(JSONDecoder().decode([Int64].self, from: Data(sequences.utf8))),
                contacts: Set(contactIDs.map { (id) throws(HushError) in try ContactID(parsing: id) }))))
            batch.position.erasures = id
        }
        batch.changes.insert(contentsOf: erased, at: 0)
        return batch
    }

    func marks(at position: FeedPosition) async throws -> String {
        let logger = self.logger
        return try await client.withConnection { connection in
            var values: [String?] = []
            for try await row in try await connection.query("""
                SELECT (SELECT COUNT(*) FROM hush_migrations)::text,
                       (SELECT seq || ':' || recorded_at FROM ledger ORDER BY seq LIMIT 1),
                       (SELECT seq || ':' || org_id || ':' || kind || ':' || recorded_at FROM ledger WHERE seq = \(position.ledger)),
                       (SELECT id || ':' || contact_id || ':' || address_id || ':' || linked_at FROM contact_links WHERE id = \(position.links)),
                       (SELECT id || ':' || erased_key || ':' || erased_at FROM erasures WHERE id = \(position.erasures))
                """, logger: logger) {
                let decoded = try row.decode((String?, String?, String?, String?, String?).self)
                values = [decoded.0, decoded.1, decoded.2, decoded.3, decoded.4]
            }
            return FeedMarks.join(values)
        }
    }

    func listNames() async throws -> [ListID: String] {
        try await client.withConnection { try await Self.listNames($0, logger: logger) }
    }

    static func listNames(_ connection: PostgresConnection, logger: Logger) async throws -> [ListID: String] {
        var names: [ListID: String] = [:]
        for try await (id, name) in try await connection.query("SELECT id, name FROM lists", logger: logger).decode((Int64, String).self) {
            names[ListID(rawValue: id)] = name
        }
        return names
    }
}
