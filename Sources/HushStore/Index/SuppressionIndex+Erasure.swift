import HushCore

extension SuppressionIndex {
    /// Moves an erased address's entries and links to its hashed key. The index keeps no
    /// address text for entries, so it finds them by the event sequences the erasure names
    /// (sequences are unique across organizations); links keep their address, which is
    /// confirmed by hashing. Erasures are rare; the scan is linear in the index size.
    ///
    /// Order keeps every check blocked throughout: checks start looking under the hash, the
    /// entries are copied there, and only then leave the clear key.
    func apply(_ erasure: IndexChange.Erasure, using erasureKey: ErasureKey) {
        noteErasure(in: erasure.organization)
        let hashed = IndexKey(erasure.organization, erasure.hashedKey)
        let hashedDigest = digest(hashed)
        var moving: [DigestSlot] = []
        var unlinking: [SubjectDigest] = []
        var contacts: Set<ContactID> = []
        for shard in shards {
            shard.state.withLock { state in
                state.table.forEachSlot { slot in
                    if slot.digest != hashedDigest, erasure.eventSequences.contains(slot.entry.eventSequence) { moving.append(slot) }
                }
                for (digest, links) in state.links where links.organization == erasure.organization
                    && links.contacts.contains(where: erasure.contacts.contains)
                    && !ErasureKey.isErased(links.subject)
                    && erasureKey.hashedKey(for: links.subject) == erasure.hashedKey {
                    unlinking.append(digest)
                    contacts.formUnion(links.contacts.filter(erasure.contacts.contains))
                }
            }
        }
        for slot in moving { add(slot.entry, digest: hashedDigest) }
        for contact in contacts { link(hashed, to: contact) }
        for slot in moving { remove(slot.entry, digest: slot.digest) }
        for digest in unlinking { unlink(digest, from: erasure.contacts) }
    }
}
