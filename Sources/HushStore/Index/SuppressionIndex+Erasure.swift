import HushCore

extension SuppressionIndex {
    /// Moves an erased address's entries and links to its hashed key. The index holds no
    /// reverse map from hash to address, so it finds the address by the event sequences and
    /// contacts the erasure names and confirms it by hashing. Erasures are rare; the scan is
    /// linear in the index size.
    ///
    /// Order keeps every check blocked throughout: checks start looking under the hash, the
    /// entries are copied there, and only then leave the clear key.
    func apply(_ erasure: IndexChange.Erasure, using erasureKey: ErasureKey) {
        noteErasure(in: erasure.organization)
        let hashed = IndexKey(erasure.organization, erasure.hashedKey)
        let candidates = keys(in: erasure.organization) { key, entries, contacts in
            guard case .address(let stored) = SubjectKey(stored: key.subject), !ErasureKey.isErased(stored) else {
                return false
            }
            return entries.contains { erasure.eventSequences.contains($0.eventSequence) }
                || contacts.contains { erasure.contacts.contains($0) }
        }
        for key in candidates where erasureKey.hashedKey(for: key.subject) == erasure.hashedKey {
            let moving = entries(for: key).filter { erasure.eventSequences.contains($0.eventSequence) }
            for entry in moving { add(entry, for: hashed) }
            for contact in contacts(of: key) where erasure.contacts.contains(contact) {
                link(hashed, to: contact)
            }
            for entry in moving { remove(entry, for: key) }
            unlink(key, from: erasure.contacts)
        }
    }
}
