import Foundation
import HushCore
import PostgresNIO

extension PostgresChangeTransaction {
    /// Moves an import's staged rows (`import_staged`, this `run`'s) into the database set-wise,
    /// as SQLite's `ChangeTransaction.recordStaged` does: a staged row whose suppression is in
    /// force keeps it (`ChangeRules.write`), every other one gets a ledger event, a suppression
    /// and its evidence, in staged order. The counters follow by their statement triggers.
    /// Returns the number of events written.
    /// The address rows were made while staging; `makingAddresses` makes what is missing first
    /// (a chunk's rows were left unmade, or an erasure since may have retired one).
    mutating func recordStaged(_ run: String, makingAddresses: Bool) async throws -> Int {
        let organizationID = organization.id.rawValue
        // A list may have been deleted or narrowed since the rows were planned.
        for row in try await connection.rows("SELECT DISTINCT list_id, channel FROM import_staged WHERE run = \(run)", logger: logger) {
            let (id, channel) = try row.decode((Int64, String).self)
            let list = ListID(rawValue: id)
            _ = try ChangeRules.check(list, await listFacts(list), covers: StoredCoding.channel(channel))
        }
        // The tables grow inside this transaction, past what the planner's statistics know: every
        // lookup below is a LATERAL subquery or a subplan fenced with `OFFSET 0`, one index probe
        // per staged row whatever the estimates (a plain join was planned as a nested loop over
        // a sequential scan of the addresses, quadratic in the import's size).
        if makingAddresses {
            try await connection.query("""
                INSERT INTO addresses (org_id, kind, key, display)
                SELECT \(organizationID), kind, name, display FROM import_staged WHERE run = \(run) AND kind IS NOT NULL ORDER BY item
                ON CONFLICT (org_id, key) WHERE erased_at IS NULL AND merged_into IS NULL DO NOTHING
                """, logger: logger)
        }
        try await connection.query("""
            INSERT INTO contacts (org_id, external_id, created_at)
            SELECT \(organizationID), name, \(now) FROM import_staged WHERE run = \(run) AND kind IS NULL ORDER BY item
            ON CONFLICT (org_id, external_id) DO NOTHING
            """, logger: logger)
        try await connection.query("""
            CREATE TEMP TABLE import_written (
                seq bigint PRIMARY KEY, item bigint NOT NULL, address_id bigint, contact_id bigint, subject_key text NOT NULL,
                channel text NOT NULL, list_id bigint NOT NULL, scope text NOT NULL, source text NOT NULL, actor text NOT NULL,
                evidence text, counts boolean NOT NULL
            ) ON COMMIT DROP
            """, logger: logger)
        try await connection.query("""
            INSERT INTO import_written
            SELECT \(nextSequence) + ROW_NUMBER() OVER (ORDER BY s.item) - 1, s.item, a.id, c.id, s.subject_key, s.channel,
                s.list_id, s.scope, s.source, s.actor, s.evidence, s.counts
            FROM import_staged s
            LEFT JOIN LATERAL (
                SELECT id FROM addresses
                WHERE s.kind IS NOT NULL AND org_id = \(organizationID) AND key = s.name COLLATE "C"
                  AND erased_at IS NULL AND merged_into IS NULL OFFSET 0
            ) a ON true
            LEFT JOIN LATERAL (
                SELECT id FROM contacts WHERE s.kind IS NULL AND org_id = \(organizationID) AND external_id = s.name OFFSET 0
            ) c ON true
            WHERE s.run = \(run)
            AND NOT EXISTS (
                SELECT 1 FROM suppressions x
                WHERE x.address_id = a.id AND x.channel = s.channel AND x.list_id = s.list_id AND x.scope = s.scope OFFSET 0)
            AND NOT EXISTS (
                SELECT 1 FROM suppressions x
                WHERE x.contact_id = c.id AND x.channel = s.channel AND x.list_id = s.list_id AND x.scope = s.scope OFFSET 0)
            """, logger: logger)
        try await connection.query("""
            INSERT INTO ledger (seq, org_id, kind, recorded_at, address_id, contact_id, channel, scope, list_id, source, actor, hold)
            SELECT seq, \(organizationID), \(EventKind.optOut.rawValue), \(now), address_id, contact_id, channel, scope, list_id,
                source, actor, false
            FROM import_written ORDER BY seq
            """, logger: logger)
        try await connection.query("""
            INSERT INTO suppressions (org_id, address_id, contact_id, subject_key, channel, list_id, scope, since, source, event_seq, hold)
            SELECT \(organizationID), address_id, contact_id, subject_key, channel, list_id, scope, \(now), source, seq, false
            FROM import_written ORDER BY seq
            """, logger: logger)
        try await connection.query("""
            INSERT INTO evidence (event_seq, json) SELECT seq, evidence FROM import_written WHERE evidence IS NOT NULL ORDER BY seq
            """, logger: logger)

        let limit = Int64(ChangeRules.maximumSuppressionsPerAddress)
        let over = try await connection.rows("""
            SELECT MIN(w.item) FROM import_written w WHERE w.counts AND w.address_id IS NOT NULL
            AND (SELECT COUNT(*) FROM (SELECT 1 FROM suppressions s WHERE s.address_id = w.address_id LIMIT \(limit + 1)) x) > \(limit)
            """, logger: logger)
        if let item = try over.first?.decode(Int64?.self) {
            throw ChangeRules.overLimit().inItem(Int(item))
        }
        let count = try await connection.rows("SELECT COUNT(*) FROM import_written", logger: logger)
        let written = Int(try count.first?.decode(Int64.self) ?? 0)
        try await announceStaged(from: nextSequence)
        try await connection.query("DELETE FROM import_staged WHERE run = \(run)", logger: logger)
        nextSequence += Int64(written)
        return written
    }

    /// The webhook events of the staged rows written, a page at a time, when anyone listens.
    private mutating func announceStaged(from first: Int64) async throws {
        guard try await outbox.isListening() else { return }
        var after = first - 1
        while true {
            var events: [LedgerEvent] = []
            var addressIDs: [Int64?] = []
            for row in try await connection.rows("""
                SELECT seq, address_id, subject_key, channel, list_id, scope, source, actor, evidence
                FROM import_written WHERE seq > \(after) ORDER BY seq LIMIT 2000
                """, logger: logger) {
                let (sequence, addressID, subject, channel, list, scope, source, actor, evidence) = try row.decode(
                    (Int64, Int64?, String, String, Int64, String, String, String, String?).self)
                events.append(try .staged(
                    sequence: sequence, organization: organization.id, recordedAt: now, subject: subject, channel: channel,
                    scope: scope, list: list, source: source, actor: actor, evidence: evidence))
                addressIDs.append(addressID)
            }
            guard let last = events.last else { return }
            try await announce(events, addressIDs: addressIDs)
            after = last.sequence
        }
    }
}
