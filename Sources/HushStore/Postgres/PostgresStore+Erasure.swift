import Foundation
import HushCore
import Logging
import PostgresNIO

extension PostgresStore {
    public func erase(_ address: Address, in organization: OrganizationID) async throws -> Bool {
        let now = StoredCoding.milliseconds(configuration.now())
        let hashed = configuration.erasureKey.hashedKey(for: address.normalized)
        let logger = self.logger
        // What scans many rows (announced requests, send reports) runs before the append lock.
        let scrub: (PostgresConnection) async throws -> Void = { connection in
            try await connection.rows("""
                UPDATE webhook_outbox SET data = (data::jsonb || '{"address": null, "confirm_url": null}'::jsonb)::text
                WHERE org_id = \(organization.rawValue) AND kind = 'opt_in.requested' AND data::jsonb ->> 'address' = \(address.normalized)
                """, logger: logger)
            // Send reports name the address normalized (as `input` when the send's channel
            // could not reach it): it becomes its hash there.
            for (named, renamed) in SendReportScrub.replacements(of: address, hashed: hashed) {
                // The entries are JSON text (UTF-8) in bytea: matched as bytes, replaced as text.
                try await connection.rows("""
                    UPDATE send_reports SET entries = convert_to(replace(convert_from(entries, 'UTF8'), \(named), \(renamed)), 'UTF8')
                    WHERE send_id IN (SELECT id FROM sends WHERE org_id = \(organization.rawValue))
                      AND position(\(ByteBuffer(string: named)) IN entries) > 0
                    """, logger: logger)
            }
        }
        return try await write(prepare: scrub) { connection in
            // The live row, and any merged into it when addresses were re-keyed (v10): one arm
            // for each of the two partial indexes on the key.
            var addressIDs: [Int64] = []
            for try await id in try await connection.query("""
                SELECT id FROM addresses
                WHERE org_id = \(organization.rawValue) AND key = \(address.normalized) AND erased_at IS NULL
                  AND (merged_into IS NULL OR (key = \(address.normalized) AND merged_into IS NOT NULL))
                """, logger: logger).decode(Int64.self) {
                addressIDs.append(id)
            }
            // What holds the address by its value is scrubbed whether or not a row of it is left:
            // a sender of a message may never have had one (send reports: `scrub`, above).
            // Messages from the number keep its hash, not it, and not what it wrote; so do the
            // announcements of those waiting for review.
            try await connection.rows("""
                UPDATE inbound_messages SET sender = \(hashed), body = ''
                WHERE org_id = \(organization.rawValue) AND sender = \(address.normalized)
                """, logger: logger)
            try await connection.rows("""
                UPDATE webhook_outbox SET data = (data::jsonb || jsonb_build_object('from', \(hashed)::text, 'body', ''))::text
                WHERE org_id = \(organization.rawValue) AND kind = 'inbound.needs_review' AND data::jsonb ->> 'from' = \(address.normalized)
                """, logger: logger)
            // Logged activities (a rep's calls) keep its hash.
            try await connection.rows("""
                UPDATE activities SET address = \(hashed) WHERE org_id = \(organization.rawValue) AND address = \(address.normalized)
                """, logger: logger)
            // Pending opt-ins hold the address in clear; they go too.
            try await connection.rows("""
                DELETE FROM opt_in_request_lifts WHERE request_id IN (
                    SELECT id FROM opt_in_requests WHERE org_id = \(organization.rawValue) AND address = \(address.normalized))
                """, logger: logger)
            try await connection.rows("""
                DELETE FROM opt_in_requests WHERE org_id = \(organization.rawValue) AND address = \(address.normalized)
                """, logger: logger)
            // What CRM connectors knew of records carrying the address forgets it.
            try await connection.rows("""
                UPDATE crm_records SET addresses = btrim(replace(E'\\n' || addresses || E'\\n', E'\\n' || \(address.normalized) || E'\\n', E'\\n'), E'\\n')
                WHERE connector_id IN (SELECT id FROM connectors WHERE org_id = \(organization.rawValue))
                AND (connector_id, entity, record_id) IN (
                    SELECT connector_id, entity, record_id FROM crm_record_addresses WHERE address = \(address.normalized))
                """, logger: logger)
            try await connection.rows("""
                DELETE FROM crm_record_addresses WHERE address = \(address.normalized)
                AND connector_id IN (SELECT id FROM connectors WHERE org_id = \(organization.rawValue))
                """, logger: logger)
            guard !addressIDs.isEmpty else { return (false, []) }
            var sequences: [Int64] = []
            var contacts: [String] = []
            for addressID in addressIDs {
                for try await sequence in try await connection.query(
                    "SELECT event_seq FROM suppressions WHERE address_id = \(addressID)", logger: logger
                ).decode(Int64.self) {
                    sequences.append(sequence)
                }
                for try await contact in try await connection.query("""
                    SELECT c.external_id FROM contact_links l JOIN contacts c ON c.id = l.contact_id WHERE l.address_id = \(addressID)
                    """, logger: logger).decode(String.self) {
                    contacts.append(contact)
                }
                try await Self.erase(connection, addressID, hashed: hashed, now: now, logger: logger)
            }
            try await Self.mergeSuppressions(connection, under: hashed, in: organization, logger: logger)
            let encoder = JSONEncoder()
            let eventSequences = String(decoding: try encoder.encode(sequences), as: UTF8.self)
            let contactIDs = String(decoding: try encoder.encode(contacts), as: UTF8.self)
            try await connection.rows("""
                INSERT INTO erasures (org_id, erased_key, event_seqs, contact_ids, erased_at)
                VALUES (\(organization.rawValue), \(hashed), \(eventSequences), \(contactIDs), \(now))
                """, logger: logger)
            let erasure = IndexChange.Erasure(
                organization: organization, hashedKey: hashed, eventSequences: Set(sequences),
                contacts: Set(try contacts.map { (id) throws(HushError) in try ContactID(parsing: id) }))
            return (true, [.erase(erasure)])
        }
    }

    /// Keeps one row of each suppression under the hash (`ErasureMerge`); the console's counters
    /// follow by their triggers.
    private static func mergeSuppressions(
        _ connection: PostgresConnection, under hashed: String, in organization: OrganizationID, logger: Logger
    ) async throws {
        let condition: PostgresQuery = "a.org_id = \(organization.rawValue) AND a.key = \(hashed)"
        try await connection.rows(PostgresQuery(
            unsafeSQL: "DELETE FROM suppressions WHERE id IN (\(ErasureMerge.surplus(where: condition.sql)))", binds: condition.binds),
            logger: logger)
    }

    /// Erases one address row: its key becomes the hash, its display and evidence go, and
    /// announced events about it lose the address.
    private static func erase(_ connection: PostgresConnection, _ addressID: Int64, hashed: String, now: Int64, logger: Logger) async throws {
        try await connection.rows("""
            UPDATE addresses SET key = \(hashed), display = NULL, erased_at = \(now) WHERE id = \(addressID)
            """, logger: logger)
        try await connection.rows("UPDATE suppressions SET subject_key = \(hashed) WHERE address_id = \(addressID)", logger: logger)
        // The evidence of its events, and of its contacts' events that it brought about.
        // Two statements: under one OR the planner reads the whole table (seconds, under the lock).
        try await connection.rows("""
            DELETE FROM evidence WHERE event_seq IN (SELECT seq FROM ledger WHERE address_id = \(addressID))
            """, logger: logger)
        try await connection.rows("DELETE FROM evidence WHERE via_address_id = \(addressID)", logger: logger)
        // Announced events keep no address or evidence in clear either (its contacts' events
        // that it brought about are queued under it too).
        try await connection.rows("""
            UPDATE webhook_outbox SET data = (data::jsonb || '{"address": null, "evidence": {}}'::jsonb)::text
            WHERE address_id = \(addressID)
            """, logger: logger)
    }
}
