/// A contact's event brought about by one of its addresses (a link click or STOP that stopped
/// every channel reaches the contacts the address is linked to, `reachesLinkedContacts`) carries
/// the same evidence as the address's own event: what the person wrote, their number, their IP.
/// That evidence row names the address (`evidence.via_address_id`), and its announcement is
/// queued under it (`webhook_outbox.address_id`), so erasing the address erases both.
///
/// Rows written before the column existed are matched by a migration, in SQLite and PostgreSQL
/// alike: the address's event comes just before its contacts' (within 1 000 positions: one
/// transaction), recorded at the same moment by the same source, with the same evidence, or,
/// when the address has been erased since (its evidence gone), linked to the contact. A contact's
/// event with no such sibling (the address had opted out before, so only the contact's event was
/// written) goes under the address the contact had first: an erasure of it then takes the
/// evidence, which is the same person's.
enum ViaAddress {
    static let backfill = """
        UPDATE evidence SET via_address_id = COALESCE((
            SELECT a.address_id FROM ledger c
            JOIN ledger a ON a.org_id = c.org_id AND a.seq < c.seq AND a.seq >= c.seq - 1000 AND a.address_id IS NOT NULL
                AND a.recorded_at = c.recorded_at AND a.source = c.source AND a.kind = c.kind AND a.channel = c.channel
            JOIN addresses d ON d.id = a.address_id
            LEFT JOIN evidence ea ON ea.event_seq = a.seq
            WHERE c.seq = evidence.event_seq AND (ea.json = evidence.json OR (d.erased_at IS NOT NULL
                AND EXISTS (SELECT 1 FROM contact_links k WHERE k.contact_id = c.contact_id AND k.address_id = a.address_id)))
            ORDER BY a.seq DESC LIMIT 1), (
            SELECT k.address_id FROM ledger c JOIN contact_links k ON k.contact_id = c.contact_id
            WHERE c.seq = evidence.event_seq AND k.linked_at <= c.recorded_at
            ORDER BY k.linked_at, k.id LIMIT 1))
        WHERE event_seq IN (
            SELECT seq FROM ledger WHERE contact_id IS NOT NULL AND kind = 'opt_out' AND channel = 'all'
                AND source IN ('link', 'one_click', 'keyword'))
        """

    /// Announcements still queued for those events go under the address too.
    static let backfillOutbox = """
        UPDATE webhook_outbox SET address_id = (SELECT via_address_id FROM evidence WHERE event_seq = webhook_outbox.ledger_seq)
        WHERE address_id IS NULL AND ledger_seq IN (SELECT event_seq FROM evidence WHERE via_address_id IS NOT NULL)
        """

    /// What erasures before the column left: the evidence their addresses brought about.
    static let scrubErased = """
        DELETE FROM evidence WHERE via_address_id IN (SELECT id FROM addresses WHERE erased_at IS NOT NULL)
        """

    /// The queued announcements of events under erased addresses (`dialect`'s JSON update).
    static func erasedAnnouncements(set update: String) -> String {
        """
        UPDATE webhook_outbox SET data = \(update)
        WHERE address_id IN (SELECT id FROM addresses WHERE erased_at IS NOT NULL)
          AND ledger_seq IN (SELECT event_seq FROM evidence WHERE via_address_id IS NOT NULL)
        """
    }
}
