import Foundation
import GRDB
import HushCore

extension ChangeTransaction {
    /// Moves an import's staged opt-outs (`ImportStaging`, attached as `staging`) into the
    /// database set-wise, a few statements for the whole import, so the write lock is held for
    /// their B-tree work only. What it writes is what `record` writes for the same plain
    /// opt-outs: a staged row whose suppression is in force keeps it (`ChangeRules.write`), every
    /// other one gets a ledger event, a suppression and its evidence, in staged order. The
    /// address rows were made with the staging (see `SQLiteStore.importOptOuts`), and are made
    /// and found again here if an erasure came since.
    /// Returns the number of events written.
    mutating func recordStaged(erasuresBefore: Int64) throws -> Int {
        let organizationID = organization.id.rawValue
        // A list may have been deleted or narrowed since the rows were planned.
        for row in try Row.fetchAll(db, sql: "SELECT DISTINCT list_id, channel FROM staging.staged") {
            let list = ListID(rawValue: row[0])
            _ = try ChangeRules.check(list, listFacts(list), covers: StoredCoding.channel(row[1]))
        }
        if try SQLiteStore.erasuresHead(db) != erasuresBefore {
            // An erasure since the address rows were made may have retired one: make and find
            // them again.
            try db.execute(sql: """
                INSERT INTO addresses (org_id, kind, key, display)
                SELECT ?, kind, name, display FROM staging.staged WHERE kind IS NOT NULL ORDER BY item
                ON CONFLICT (org_id, key) WHERE erased_at IS NULL AND merged_into IS NULL DO NOTHING
                """, arguments: [organizationID])
            try db.execute(sql: """
                UPDATE staging.staged SET address_id = (
                    SELECT a.id FROM addresses a
                    WHERE a.org_id = ? AND a.key = staged.name AND a.erased_at IS NULL AND a.merged_into IS NULL)
                WHERE kind IS NOT NULL
                """, arguments: [organizationID])
        }
        try db.execute(sql: """
            INSERT INTO contacts (org_id, external_id, created_at)
            SELECT ?, name, ? FROM staging.staged WHERE kind IS NULL ORDER BY item
            ON CONFLICT (org_id, external_id) DO NOTHING
            """, arguments: [organizationID, now])
        // Positions from the ledger head on, in staged order: a placeholder row just before the
        // first makes SQLite number the rows as they are inserted (a window function sorted them).
        try db.execute(sql: """
            INSERT INTO staging.written (seq, item, subject_key, channel, list_id, scope, source, actor, counts)
            VALUES (?, -1, '', '', 0, '', '', '', 0)
            """, arguments: [nextSequence - 1])
        try db.execute(sql: """
            INSERT INTO staging.written
            SELECT NULL, s.item, s.address_id, c.id, s.subject_key, s.channel, s.list_id, s.scope, s.source, s.actor, s.evidence,
                s.counts
            FROM staging.staged s
            LEFT JOIN contacts c ON s.kind IS NULL AND c.org_id = ? AND c.external_id = s.name
            WHERE NOT EXISTS (
                SELECT 1 FROM suppressions x
                WHERE x.address_id = s.address_id AND x.channel = s.channel AND x.list_id = s.list_id AND x.scope = s.scope)
            AND NOT EXISTS (
                SELECT 1 FROM suppressions x
                WHERE x.contact_id = c.id AND x.channel = s.channel AND x.list_id = s.list_id AND x.scope = s.scope)
            ORDER BY s.item
            """, arguments: [organizationID])
        try db.execute(sql: "DELETE FROM staging.written WHERE item = -1")
        try db.execute(sql: """
            INSERT INTO ledger (seq, org_id, kind, recorded_at, address_id, contact_id, channel, scope, list_id, source, actor, hold)
            SELECT seq, ?, ?, ?, address_id, contact_id, channel, scope, list_id, source, actor, 0
            FROM staging.written ORDER BY seq
            """, arguments: [organizationID, EventKind.optOut.rawValue, now])
        try db.execute(sql: """
            INSERT INTO suppressions (org_id, address_id, contact_id, subject_key, channel, list_id, scope, since, source, event_seq, hold)
            SELECT ?, address_id, contact_id, subject_key, channel, list_id, scope, ?, source, seq, 0
            FROM staging.written ORDER BY seq
            """, arguments: [organizationID, now])
        try db.execute(sql: """
            INSERT INTO evidence (event_seq, json) SELECT seq, evidence FROM staging.written WHERE evidence IS NOT NULL ORDER BY seq
            """)

        let limit = ChangeRules.maximumSuppressionsPerAddress
        if let item = try Int.fetchOne(db, sql: """
            SELECT MIN(w.item) FROM staging.written w WHERE w.counts = 1 AND w.address_id IS NOT NULL
            AND (SELECT COUNT(*) FROM (SELECT 1 FROM suppressions s WHERE s.address_id = w.address_id LIMIT \(limit + 1))) > \(limit)
            """) {
            throw ChangeRules.overLimit().inItem(item)
        }

        var written = 0
        var counters = ConsoleCounters()
        for row in try Row.fetchAll(db, sql: """
            SELECT channel, list_id, source, COUNT(*) FROM staging.written GROUP BY channel, list_id, source
            """) {
            let channel = try StoredCoding.channel(row[0])
            let count: Int = row[3]
            counters.appended(.optOut, channel: channel, source: try StoredCoding.source(row[2]), count: count)
            counters.suppressions(on: ListID(rawValue: row[1]), channel: channel, changedBy: count)
            written += count
        }
        try counters.write(db, organization: organization.id, at: now)
        try announceStaged(from: nextSequence)
        nextSequence += Int64(written)
        return written
    }

    /// The webhook events of the staged rows written, a page at a time, when anyone listens.
    private mutating func announceStaged(from first: Int64) throws {
        guard try outbox.isListening() else { return }
        let page = 2_000
        var after = first - 1
        while true {
            var events: [LedgerEvent] = []
            var addressIDs: [Int64?] = []
            // Not cached: the statement names the attached staging file, detached after the commit.
            for row in try Row.fetchAll(db.makeStatement(sql: """
                SELECT seq, address_id, subject_key, channel, list_id, scope, source, actor, evidence
                FROM staging.written WHERE seq > ? ORDER BY seq LIMIT \(page)
                """), arguments: [after]) {
                events.append(try .staged(
                    sequence: row[0], organization: organization.id, recordedAt: now, subject: row[2], channel: row[3],
                    scope: row[5], list: row[4], source: row[6], actor: row[7], evidence: row[8]))
                addressIDs.append(row[1])
            }
            guard let last = events.last else { return }
            try announce(events, addressIDs: addressIDs)
            after = last.sequence
        }
    }
}
