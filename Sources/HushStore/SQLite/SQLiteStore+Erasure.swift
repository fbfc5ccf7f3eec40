import Foundation
import GRDB
import HushCore

extension SQLiteStore {
    public func erase(_ address: Address, in organization: OrganizationID) async throws -> Bool {
        let now = StoredCoding.milliseconds(configuration.now())
        let hashed = configuration.erasureKey.hashedKey(for: address.normalized)
        return try await write { db in
            // The live row, and any merged into it when addresses were re-keyed (v10).
            let addressIDs = try Int64.fetchAll(db, sql: """
                SELECT id FROM addresses WHERE org_id = ? AND key = ? AND erased_at IS NULL
                """, arguments: [organization.rawValue, address.normalized])
            // What holds the address by its value is scrubbed whether or not a row of it is left:
            // a recipient of a send or a sender of a message may never have had one.
            try Self.scrub(address, hashed: hashed, in: organization, db)
            guard !addressIDs.isEmpty else { return (false, []) }
            var sequences: [Int64] = []
            var contacts: [String] = []
            for addressID in addressIDs {
                sequences += try Int64.fetchAll(db, sql: "SELECT event_seq FROM suppressions WHERE address_id = ?",
                                                arguments: [addressID])
                contacts += try String.fetchAll(db, sql: """
                    SELECT c.external_id FROM contact_links l JOIN contacts c ON c.id = l.contact_id WHERE l.address_id = ?
                    """, arguments: [addressID])
                try Self.erase(addressID, hashed: hashed, now: now, db)
            }
            try Self.mergeSuppressions(under: hashed, in: organization, now: now, db)
            let encoder = JSONEncoder()
            try db.execute(sql: """
                INSERT INTO erasures (org_id, erased_key, event_seqs, contact_ids, erased_at) VALUES (?, ?, ?, ?, ?)
                """, arguments: [
                    organization.rawValue, hashed, String(decoding: try encoder.encode(sequences), as: UTF8.self),
                    String(decoding: try encoder.encode(contacts), as: UTF8.self), now,
                ])
            let erasure = IndexChange.Erasure(
                organization: organization, hashedKey: hashed, eventSequences: Set(sequences),
                contacts: Set(try contacts.map { (id) throws(HushError) in try ContactID(parsing: id) }))
            return (true, [.erase(erasure)])
        }
    }

    /// Scrubs what holds the address by value: the announcements of pending opt-ins, pending
    /// opt-ins themselves, what connectors knew of records carrying it, send reports, and the
    /// number's messages and their announcements.
    private static func scrub(_ address: Address, hashed: String, in organization: OrganizationID, _ db: Database) throws {
        try db.execute(sql: """
            UPDATE webhook_outbox SET data = json_set(data, '$.address', NULL, '$.confirm_url', NULL)
            WHERE org_id = ? AND kind = 'opt_in.requested' AND json_extract(data, '$.address') = ?
            """, arguments: [organization.rawValue, address.normalized])
        // Messages from the number keep its hash, not it, and not what it wrote; so do the
        // announcements of those waiting for review.
        try db.execute(sql: "UPDATE inbound_messages SET sender = ?, body = '' WHERE org_id = ? AND sender = ?",
                       arguments: [hashed, organization.rawValue, address.normalized])
        try db.execute(sql: """
            UPDATE webhook_outbox SET data = json_set(data, '$.from', ?, '$.body', '')
            WHERE org_id = ? AND kind = 'inbound.needs_review' AND json_extract(data, '$.from') = ?
            """, arguments: [hashed, organization.rawValue, address.normalized])
        // Logged activities (a rep's calls) keep its hash.
        try db.execute(sql: "UPDATE activities SET address = ? WHERE org_id = ? AND address = ?",
                       arguments: [hashed, organization.rawValue, address.normalized])
        // Pending opt-ins hold the address in clear; they go too.
        try db.execute(sql: """
            DELETE FROM opt_in_request_lifts WHERE request_id IN (SELECT id FROM opt_in_requests WHERE org_id = ? AND address = ?)
            """, arguments: [organization.rawValue, address.normalized])
        try db.execute(sql: "DELETE FROM opt_in_requests WHERE org_id = ? AND address = ?",
                       arguments: [organization.rawValue, address.normalized])
        // What CRM connectors knew of records carrying the address forgets it.
        try db.execute(sql: """
            UPDATE crm_records SET addresses = trim(replace(char(10) || addresses || char(10), char(10) || ?1 || char(10), char(10)), char(10))
            WHERE connector_id IN (SELECT id FROM connectors WHERE org_id = ?2)
            AND (connector_id, entity, record_id) IN (SELECT connector_id, entity, record_id FROM crm_record_addresses WHERE address = ?1)
            """, arguments: [address.normalized, organization.rawValue])
        try db.execute(sql: """
            DELETE FROM crm_record_addresses WHERE address = ? AND connector_id IN (SELECT id FROM connectors WHERE org_id = ?)
            """, arguments: [address.normalized, organization.rawValue])
        // Send reports name the address normalized (as `input` when the send's channel could not
        // reach it): it becomes its hash there.
        for (named, renamed) in SendReportScrub.replacements(of: address, hashed: hashed) {
            try db.execute(sql: """
                UPDATE send_reports SET entries = CAST(replace(CAST(entries AS TEXT), ?, ?) AS BLOB)
                WHERE send_id IN (SELECT id FROM sends WHERE org_id = ?) AND instr(CAST(entries AS TEXT), ?) > 0
                """, arguments: [named, renamed, organization.rawValue, named])
        }
    }

    /// Keeps one row of each suppression under the hash (`ErasureMerge`), and the console's
    /// counters with it.
    private static func mergeSuppressions(under hashed: String, in organization: OrganizationID, now: Int64, _ db: Database) throws {
        let deleted = try Row.fetchAll(db, sql: """
            DELETE FROM suppressions WHERE id IN (\(ErasureMerge.surplus(where: "a.org_id = ? AND a.key = ?")))
            RETURNING list_id, channel
            """, arguments: [organization.rawValue, hashed])
        var counters = ConsoleCounters()
        for row in deleted {
            counters.suppressions(on: ListID(rawValue: row[0]), channel: try StoredCoding.channel(row[1]), changedBy: -1)
        }
        try counters.write(db, organization: organization, at: now)
    }

    /// Erases one address row: its key becomes the hash, its display and evidence go, and
    /// announced events about it lose the address.
    private static func erase(_ addressID: Int64, hashed: String, now: Int64, _ db: Database) throws {
        try db.execute(sql: "UPDATE addresses SET key = ?, display = NULL, erased_at = ? WHERE id = ?",
                       arguments: [hashed, now, addressID])
        try db.execute(sql: "UPDATE suppressions SET subject_key = ? WHERE address_id = ?", arguments: [hashed, addressID])
        // The evidence of its events, and of its contacts' events that it brought about.
        try db.execute(sql: """
            DELETE FROM evidence WHERE event_seq IN (SELECT seq FROM ledger WHERE address_id = ?1) OR via_address_id = ?1
            """, arguments: [addressID])
        // Announced events keep no address or evidence in clear either (its contacts' events
        // that it brought about are queued under it too).
        try db.execute(sql: """
            UPDATE webhook_outbox SET data = json_set(data, '$.address', NULL, '$.evidence', json('{}')) WHERE address_id = ?
            """, arguments: [addressID])
    }
}
