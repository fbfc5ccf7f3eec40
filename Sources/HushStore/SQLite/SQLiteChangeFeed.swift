import Foundation
import GRDB
import GRDBSQLite
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
        var erased: [IndexChange] = []
        while let row = try erasures.next() {
            let sequences = try JSONDecoder().decode([Int64].self, from: Data((row[3] as String).utf8))
            let contacts = try JSONDecoder().decode([String].self, from: Data((row[4] as String).utf8))
            try erased.append(.erase(IndexChange.Erasure(
                organization: OrganizationID(rawValue: row[1]), hashedKey: row[2],
                eventSequences: Set(sequences), contacts: Set(contacts.map { (id) throws(HushError) in try ContactID(parsing: id) })
            )))
            batch.position.erasures = row[0]
        }
        batch.changes.insert(contentsOf: erased, at: 0)
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

    func marks(at position: FeedPosition) async throws -> String {
        try await pool.read { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT CAST((SELECT COUNT(*) FROM grdb_migrations) AS TEXT),
                       (SELECT seq || ':' || recorded_at FROM ledger ORDER BY seq LIMIT 1),
                       (SELECT seq || ':' || org_id || ':' || kind || ':' || recorded_at FROM ledger WHERE seq = ?),
                       (SELECT id || ':' || contact_id || ':' || address_id || ':' || linked_at FROM contact_links WHERE id = ?),
                       (SELECT id || ':' || erased_key || ':' || erased_at FROM erasures WHERE id = ?)
                """, arguments: [position.ledger, position.links, position.erasures])
            return FeedMarks.join((0..<5).map { row?[$0] as String? })
        }
    }

    func load(into index: SuppressionIndex) async throws -> FeedPosition {
        try await pool.read { db in
            let position = try Self.head(db)
            index.replaceListNames(with: try Self.listNames(db), readAt: index.listNamesVersion)
            let defaultLists = try Set(Int64.fetchAll(db, sql: "SELECT id FROM lists WHERE is_default = 1"))
            try Self.loadSuppressions(into: IndexLoader(index: index, defaultLists: defaultLists), db)
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

    /// Steps the rows with SQLite's C API and hands the loader each text column's bytes in place.
    private static func loadSuppressions(into loader: consuming IndexLoader, _ db: Database) throws {
        let statement = try db.makeStatement(sql: """
            SELECT org_id, subject_key, channel, list_id, scope, since, source, event_seq, hold FROM suppressions
            """)
        let handle = statement.sqliteStatement
        defer { sqlite3_reset(handle) }
        func text(_ column: Int32) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(start: sqlite3_column_text(handle, column), count: Int(sqlite3_column_bytes(handle, column)))
        }
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { return loader.finish() }
            guard code == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
            try loader.add(IndexLoader.Row(
                organization: sqlite3_column_int64(handle, 0), subject: text(1), channel: text(2),
                list: sqlite3_column_int64(handle, 3), scope: text(4), since: sqlite3_column_int64(handle, 5), source: text(6),
                sequence: sqlite3_column_int64(handle, 7), hold: sqlite3_column_int64(handle, 8) != 0))
        }
    }
}
