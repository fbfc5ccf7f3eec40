/// What an erasure does where the address was erased before: the address row it erases takes
/// the same hashed key as the earlier one, and a suppression both rows had would be two rows
/// under one subject. The index and a replay of the ledger hold them as one, so an opt-in
/// lifting one row would leave the other in force behind an index that allows the address.
/// Both backends therefore keep one row per suppression under a hash, the one the index keeps
/// (`ChangeRules.stands`: a held one over one not held, else the earlier event, else the
/// earlier row), deleting the others in the erasure's transaction; a migration did the same
/// for rows erased before.
enum ErasureMerge {
    /// The ids of the suppression rows to delete, among those of the erased address rows `a`
    /// that `condition` (SQL over `a`) selects. SQLite and PostgreSQL read it alike.
    static func surplus(where condition: String) -> String {
        """
        SELECT s.id FROM suppressions s JOIN addresses a ON a.id = s.address_id
        WHERE a.erased_at IS NOT NULL AND \(condition) AND EXISTS (
            SELECT 1 FROM suppressions o JOIN addresses b ON b.id = o.address_id
            WHERE b.org_id = a.org_id AND b.key = a.key AND b.erased_at IS NOT NULL AND o.id <> s.id
              AND o.channel = s.channel AND o.list_id = s.list_id AND o.scope = s.scope
              AND (o.hold > s.hold OR (o.hold = s.hold AND (o.event_seq < s.event_seq OR (o.event_seq = s.event_seq AND o.id < s.id)))))
        """
    }

    /// Deletes the surplus rows of every erased address.
    static let repair = "DELETE FROM suppressions WHERE id IN (\(surplus(where: "a.org_id IS NOT NULL")))"
}
