import HushCore

extension SuppressionIndex {
    /// Adds the blocks of an address linked to contacts: its own entries and every contact's,
    /// each shard read under its lock in turn. The address's shard is looked at again after the
    /// contacts': when it changed meanwhile (its version moved), everything is read again, since
    /// the two reads could otherwise show a state that never was (an address given its own
    /// opt-out while its contact's was lifted would show neither, and be allowed though it was
    /// blocked throughout). `betweenReads` lets a test change the index there.
    func appendLinkedBlocks(
        of digest: SubjectDigest, in organization: OrganizationID, query: CheckQuery, to blocks: inout Decision.Blocks,
        betweenReads: () -> Void = {}
    ) {
        while true {
            var found = Decision.Blocks()
            let (version, contacts) = withShard(for: digest) { shard in
                shard.state.withLock { state in
                    state.appendBlocks(of: digest, contact: nil, query: query, scopes: scopes, to: &found)
                    return (shard.version.load(ordering: .relaxed), state.links[digest]?.contacts ?? [])
                }
            }
            betweenReads()
            for contact in contacts { appendContactBlocks(contact, in: organization, query: query, to: &found) }
            if withShard(for: digest, { $0.version.load(ordering: .acquiring) }) == version {
                for block in found { blocks.append(block) }
                return
            }
        }
    }

    /// What blocks a contact on its own (its own suppressions, not its addresses').
    func blocks(ofContact contact: ContactID, in organization: OrganizationID, query: CheckQuery) -> [Decision.Block] {
        var blocks = Decision.Blocks()
        appendContactBlocks(contact, in: organization, query: query, to: &blocks)
        return Array(blocks)
    }

    func appendContactBlocks(_ contact: ContactID, in organization: OrganizationID, query: CheckQuery, to blocks: inout Decision.Blocks) {
        let digest = digest(IndexKey(organization, .contact(contact.externalID)))
        withShard(for: digest) { shard in
            shard.state.withLock { $0.appendBlocks(of: digest, contact: contact, query: query, scopes: scopes, to: &blocks) }
        }
    }
}
