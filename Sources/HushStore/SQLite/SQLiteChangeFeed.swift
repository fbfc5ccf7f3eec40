import Foundation
import GRDB
import HushCore

/// Reads the ledger, contact links and erasures of a SQLite database for the index.
struct SQLiteChangeFeed: ChangeFeed {
    let pool: DatabasePool

    func head() async throws -> FeedPosition {
        try await pool.read { db in try Self.head(db) }
    }

    static func head(_ db: Database) throws -> FeedPosition {
        let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT (SELECT COALESCE(MAX(seq), 0) FROM ledger),
                   (SELECT COALESCE(MAX(id), 0) FROM contact_links),
                   (SELECT COALESCE(MAX(id), 0) FROM erasures)
            """))
        guard let row else { return .start }
        return FeedPosition(ledger: row[0], links: row[1], erasures: row[2])
    }

    func changes(after position: FeedPosition, limit: Int) async throws -> ChangeBatch {
        try await pool.read { db in try Self.changes(db, after: position, limit: limit) }
    }

    static func changes(_ db: Database, after position: FeedPosition, limit: Int) throws -> ChangeBatch {
        var batch = ChangeBatch(changes: [], position: position)
        let events = try Row.fetchCursor(db, sql: """
            SELECT l.seq, l.org_id, l.kind, l.recorded_at,
                   COALESCE(a.key, '\(SubjectKey.contactPrefix)' || c.external_id), l.channel, l.scope, l.list_id, l.source,
                   li.is_default, l.hold, li.name
            FROM ledger l
            LEFT JOIN addresses a ON a.id = l.address_id
            LEFT JOIN contacts c ON c.id = l.contact_id
            JOIN lists li ON li.id = l.list_id
            WHERE l.seq > ? ORDER BY l.seq LIMIT ?
            """, arguments: [position.ledger, limit])
        var named: Set<ListID> = []
        while let row = try events.next() {
            let key = IndexKey(OrganizationID(rawValue: row[1]), row[4] as String)
            let list = ListID(rawValue: row[7])
            if named.insert(list).inserted { batch.changes.append(.name(list, row[11])) }
            let entry = try IndexEntry(
                eventSequence: row[0], sinceMilliseconds: row[3], list: list,
                scope: StoredCoding.scope(row[6]), channel: StoredCoding.channel(row[5]),
                source: StoredCoding.source(row[8]), listIsDefault: row[9], hold: row[10]
            )
            let kind: String = row[2]
            batch.changes.append(kind == EventKind.optOut.rawValue ? .add(key, entry) : .remove(key, entry))
            batch.position.ledger = row[0]
        }
        let links = try Row.fetchCursor(db, sql: """
            SELECT l.id, c.org_id, a.key, c.external_id
            FROM contact_links l JOIN contacts c ON c.id = l.contact_id JOIN addresses a ON a.id = l.address_id
            WHERE l.id > ? ORDER BY l.id
            """, arguments: [position.links])
        while let row = try links.next() {
            let key = IndexKey(OrganizationID(rawValue: row[1]), row[2] as String)
            try batch.changes.append(.link(key, ContactID(parsing: row[3])))
            batch.position.links = row[0]
        }
        let erasures = try Row.fetchCursor(db, sql: """
            SELECT id, org_id, erased_key, event_seqs, contact_ids FROM erasures WHERE id > ? ORDER BY id
            """, arguments: [position.erasures])
        while let row = try erasures.next() {
            let sequences = try JSONDecoder().decode([Int64].self, from: Data((row[3] as String).utf8))
            let contacts = try JSONDecoder().decode([String].self, from: Data((row[4] as String).utf8))
            try batch.changes.append(.erase(IndexChange.Erasure(
                organization: OrganizationID(rawValue: row[1]), hashedKey: row[2],
                eventSequences: Set(sequences), contacts: Set(contacts.map { (id) throws(HushError) in try ContactID(parsing: id) })
            )))
            batch.position.erasures = row[0]
        }
        return batch
    }

    func listNames() async throws -> [ListID: String] {
        try await pool.read { db in try Self.listNames(db) }
    }

    static func listNames(_ db: Database) throws -> [ListID: String] {
        var names: [ListID: String] = [:]
        let rows = try Row.fetchCursor(db.cachedStatement(sql: "SELECT id, name FROM lists"))
        while let row = try rows.next() {
            names[ListID(rawValue: row[0])] = row[1]
        }
        return names
    }

    func load(into index: SuppressionIndex) async throws -> FeedPosition {
        try await pool.read { db in
            let position = try Self.head(db)
            index.replaceListNames(with: try Self.listNames(db), readAt: index.listNamesVersion)
            let defaultLists = try Set(Int64.fetchAll(db, sql: "SELECT id FROM lists WHERE is_default = 1"))
            var scopes: [String: Scope] = ["": .organization]
            let rows = try Row.fetchCursor(db, sql: """
                SELECT org_id, subject_key, channel, list_id, scope, since, source, event_seq, hold FROM suppressions
                """)
            while let row = try rows.next() {
                let scopePath: String = row[4]
                let scope: Scope
                if let known = scopes[scopePath] {
                    scope = known
                } else {
                    scope = try StoredCoding.scope(scopePath)
                    scopes[scopePath] = scope
                }
                let list: Int64 = row[3]
                let entry = try IndexEntry(
                    eventSequence: row[7], sinceMilliseconds: row[5], list: ListID(rawValue: list), scope: scope,
                    channel: StoredCoding.channel(row[2]), source: StoredCoding.source(row[6]),
                    listIsDefault: defaultLists.contains(list), hold: row[8]
                )
                index.add(entry, for: IndexKey(OrganizationID(rawValue: row[0]), row[1] as String))
            }
            let links = try Row.fetchCursor(db, sql: """
                SELECT c.org_id, a.key, c.external_id
                FROM contact_links l JOIN contacts c ON c.id = l.contact_id JOIN addresses a ON a.id = l.address_id
                """)
            while let row = try links.next() {
                try index.link(IndexKey(OrganizationID(rawValue: row[0]), row[1] as String), to: ContactID(parsing: row[2]))
            }
            for organization in try Int64.fetchAll(db, sql: "SELECT DISTINCT org_id FROM erasures") {
                index.noteErasure(in: OrganizationID(rawValue: organization))
            }
            return position
        }
    }
}
