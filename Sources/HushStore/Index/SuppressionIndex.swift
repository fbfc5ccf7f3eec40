import HushCore
import Synchronization

/// Every suppression of every organization, in memory, and the name of every list. Checks read
/// it and never touch disk. Subjects are kept as keyed digests (`SubjectDigest`) in open-addressing
/// tables of packed 40-byte slots (`DigestTable`), sharded so that concurrent checks and writes
/// rarely meet on a lock.
///
/// The index does not decide what changes: it applies what the ledger says, in ledger order,
/// through `LedgerFollower`.
final class SuppressionIndex: Sendable {
    /// An address linked to contacts, with its text: an erasure finds it by hashing.
    struct Links: Sendable {
        let organization: OrganizationID
        let subject: String
        var contacts: [ContactID]
    }

    // Internal rather than private for the snapshot (`SuppressionIndex+Snapshot.swift`).
    struct ShardState {
        var table: DigestTable
        /// The contacts each address belongs to; their entries cover the address too.
        var links: [SubjectDigest: Links] = [:]
        /// Every shard holds the same dictionary (one copy, shared), so a check names its lists
        /// under the lock it takes anyway rather than on one lock every check would share.
        var listNames = ListNameTable()
        /// Where a batch leaves the words it touched, so the reads are not optimized away.
        var touched: UInt64 = 0

        /// Files a suppression unless the subject has it already (a held one replaces one that is
        /// not held); says whether the count grew. Of two alike in hold, the earlier event stays,
        /// whatever order they come in (`ChangeRules.stands`): an erasure moves an address's
        /// entries under a hash that may hold the same suppression from an earlier erasure (the
        /// database then keeps the same one row), and the load files rows from two connections
        /// at once.
        func add(_ entry: PackedEntry, digest: SubjectDigest) -> Bool {
            if let index = table.firstIndex(of: digest, where: { $0.sameSuppression(as: entry) }) {
                let existing = table[index].entry
                if ChangeRules.stands(hold: entry.hold, sequence: entry.eventSequence, over: (existing.hold, existing.eventSequence)) {
                    table[index].entry = entry
                }
                return false
            }
            table.insert(digest, entry)
            return true
        }

        /// Appends a block for each of the subject's entries that blocks `query`, naming its list.
        func appendBlocks(
            of digest: SubjectDigest, contact: ContactID?, query: CheckQuery, scopes: ScopeTable, to blocks: inout Decision.Blocks
        ) {
            table.forEach(of: digest) { entry in
                SuppressionIndex.appendBlock(of: entry, contact: contact, query: query, scopes: scopes, to: &blocks) { listNames[$0] }
            }
        }
    }

    /// Appends a block when `entry` blocks `query`, naming its list with `name`.
    @inline(__always)
    static func appendBlock(
        of entry: PackedEntry, contact: ContactID?, query: CheckQuery, scopes: ScopeTable,
        to blocks: inout Decision.Blocks, name: (ListID) -> String
    ) {
        let scope = scopes[entry.scope]
        let channel = entry.channel
        if query.isBlocked(by: channel, scope: scope, list: entry.list, listIsDefault: entry.listIsDefault) {
            // The default list's name never changes, so only a custom list's is looked up. A list's
            // name reaches the index before its entries; the id is only a fallback.
            blocks.append(
                Decision.Block(
                    list: entry.list, listName: entry.listIsDefault ? ListDefinition.defaultName : name(entry.list),
                    scope: scope, channel: channel,
                    sinceMilliseconds: entry.sinceMilliseconds, source: entry.source, eventSequence: entry.eventSequence,
                    contact: contact, hold: entry.hold))
        }
    }

    /// The secret subjects are digested with.
    let digestKey: DigestKey
    let scopes = ScopeTable()
    let shards: [Shard]
    /// The same shards, for checks to borrow without a retain (`withShard`): a retain writes the
    /// shard's count, which both threads' checks write, so its line moved between the cores.
    nonisolated(unsafe) let borrowedShards: UnsafeMutablePointer<Unmanaged<Shard>>
    private let shardMask: UInt64
    let erasingOrganizations = Mutex<Set<OrganizationID>>([])
    /// Set once any erasure exists, so checks skip hashing and a lock until then.
    private let hasErasures = Atomic<Bool>(false)
    private let entryCount = Atomic<Int>(0)
    private let erasureKey: ErasureKey
    /// The list names every shard is given: changed only under this lock
    /// (`SuppressionIndex+ListNames.swift`), so shards receive them in order. `version` counts
    /// changes, so that a read of every name made before a change does not undo it.
    let listNames = Mutex<(names: [ListID: String], version: UInt64)>(([:], 0))
    /// Counts the names published to the shards, so that a thread's copy (`ThreadListNames`)
    /// knows it is stale; changed under `listNames`.
    let namesStamp = Atomic<UInt64>(0)
    /// This index among every index the process made, for threads' copies of its names.
    let serial = SuppressionIndex.serials.add(1, ordering: .relaxed).newValue
    private static let serials = Atomic<UInt64>(0)

    /// `expectedCount` sizes the tables so that loading that many entries never grows them.
    ///
    /// 64 shards: two threads' checks rarely meet on one, and at ten million entries a shard's
    /// table is 7 MB, mostly on huge pages (256 shards' tables stayed under the 2 MB a huge page
    /// needs, and checks paid a TLB miss each). A table that grows moves under its lock: 10 ms
    /// at that size, once per half again.
    init(erasureKey: ErasureKey, digestKey: DigestKey = .random(), expectedCount: Int = 0, shardCount: Int = 64) {
        precondition(shardCount > 0 && shardCount <= 1 << 16 && shardCount & (shardCount - 1) == 0, "shard count is a power of two")
        self.erasureKey = erasureKey
        self.digestKey = digestKey
        self.shardMask = UInt64(shardCount - 1)
        // Loaded to about 87 %: a table grows by half past 90 %.
        let perShard = (expectedCount + expectedCount / 7) / shardCount + 8
        self.shards = (0..<shardCount).map { _ in Shard(capacity: perShard) }
        borrowedShards = Self.borrowable(shards)
    }

    deinit {
        borrowedShards.deallocate()
    }

    /// An index made of shards already filled (a snapshot's), with these scopes numbered in
    /// order and these organizations' erasures noted.
    init(erasureKey: ErasureKey, digestKey: DigestKey, shards: [ShardState], scopes: [Scope], erasing: Set<OrganizationID>) {
        precondition(!shards.isEmpty && shards.count <= 1 << 16 && shards.count & (shards.count - 1) == 0, "shard count is a power of two")
        self.erasureKey = erasureKey
        self.digestKey = digestKey
        self.shardMask = UInt64(shards.count - 1)
        self.shards = shards.map(Shard.init)
        borrowedShards = Self.borrowable(self.shards)
        for scope in scopes { _ = self.scopes.id(for: scope) }
        entryCount.store(shards.reduce(0) { $0 + $1.table.count }, ordering: .relaxed)
        erasingOrganizations.withLock { $0 = erasing }
        hasErasures.store(!erasing.isEmpty, ordering: .releasing)
    }

    /// How many suppressions the index holds.
    var count: Int { entryCount.load(ordering: .relaxed) }

    func digest(_ key: IndexKey) -> SubjectDigest {
        digestKey.digest(key.organization, key.subject)
    }

    /// The shard comes from the low word's top bits; the slot in its table from the high word.
    private func shard(for digest: SubjectDigest) -> Shard {
        shards[shardIndex(of: digest)]
    }

    func shardIndex(of digest: SubjectDigest) -> Int {
        Int(truncatingIfNeeded: (digest.low >> 48) & shardMask)
    }

    // MARK: Changes

    /// Files a suppression; a repeat of one already held changes nothing.
    func add(_ entry: IndexEntry, for key: IndexKey) {
        let slot = slot(entry, for: key)
        add(slot.entry, digest: slot.digest)
    }

    /// The entry packed and its subject digested, as `add(_:)` takes many.
    func slot(_ entry: IndexEntry, for key: IndexKey) -> DigestSlot {
        DigestSlot(digest: digest(key), entry: entry.packed(scope: scopes.id(for: entry.scope)))
    }

    /// Files many suppressions, grouped by shard like a batch of checks (`decisions`): one lock
    /// per shard, and every home slot touched before any is written, so the cache misses of a
    /// load overlap.
    func add(_ entries: [DigestSlot]) {
        guard entries.count > 1 else {
            if let only = entries.first { add(only.entry, digest: only.digest) }
            return
        }
        let (order, starts) = groupedByShard(entries.count) { entries[$0].digest }
        var added = 0
        for shard in 0..<shards.count where starts[shard] < starts[shard + 1] {
            let members = order[starts[shard]..<starts[shard + 1]]
            shards[shard].write { state in
                var touched: UInt64 = 0
                for position in members { touched &+= state.table.touch(entries[position].digest) }
                state.touched = touched
                for position in members where state.add(entries[position].entry, digest: entries[position].digest) {
                    added += 1
                }
            }
        }
        entryCount.add(added, ordering: .relaxed)
    }

    /// Positions `0..<count` ordered by the shard of their digest (a counting sort), and where
    /// each shard's run starts: shard `s` holds `order[starts[s]..<starts[s + 1]]`.
    private func groupedByShard(_ count: Int, digest: (Int) -> SubjectDigest) -> (order: [Int], starts: [Int]) {
        var starts = [Int](repeating: 0, count: shards.count + 1)
        for position in 0..<count { starts[shardIndex(of: digest(position)) + 1] += 1 }
        for shard in 0..<shards.count { starts[shard + 1] += starts[shard] }
        var next = starts
        var order = [Int](repeating: 0, count: count)
        for position in 0..<count {
            let shard = shardIndex(of: digest(position))
            order[next[shard]] = position
            next[shard] += 1
        }
        return (order, starts)
    }

    func add(_ entry: PackedEntry, digest: SubjectDigest) {
        if shard(for: digest).write({ $0.add(entry, digest: digest) }) { entryCount.add(1, ordering: .relaxed) }
    }

    /// Removes the suppression `entry` names (same channel, list and scope).
    func remove(_ entry: IndexEntry, for key: IndexKey) {
        remove(entry.packed(scope: scopes.id(for: entry.scope)), digest: digest(key))
    }

    func remove(_ entry: PackedEntry, digest: SubjectDigest) {
        let removed = shard(for: digest).write { state -> Bool in
            guard let index = state.table.firstIndex(of: digest, where: { $0.sameSuppression(as: entry) }) else { return false }
            state.table.remove(at: index)
            return true
        }
        if removed { entryCount.subtract(1, ordering: .relaxed) }
    }

    /// Drops every entry and link of a subject (an erased address, once its hashed key holds them).
    func removeAll(for key: IndexKey) {
        let digest = digest(key)
        let removed = shard(for: digest).write { state in
            state.links.removeValue(forKey: digest)
            var removed = 0
            while let index = state.table.firstIndex(of: digest, where: { _ in true }) {
                state.table.remove(at: index)
                removed += 1
            }
            return removed
        }
        if removed > 0 { entryCount.subtract(removed, ordering: .relaxed) }
    }

    func link(_ address: IndexKey, to contact: ContactID) {
        let digest = digest(address)
        shard(for: digest).write { state in
            var links = state.links[digest] ?? Links(organization: address.organization, subject: address.subject, contacts: [])
            guard !links.contacts.contains(contact) else { return }
            links.contacts.append(contact)
            state.links[digest] = links
        }
    }

    func noteErasure(in organization: OrganizationID) {
        erasingOrganizations.withLock { _ = $0.insert(organization) }
        hasErasures.store(true, ordering: .releasing)
    }

    /// Whether the organization has erased addresses, whose entries sit under their hashed key:
    /// checked without a lock until any erasure exists. An erasure is noted before its entries
    /// move (`apply(_:using:)`), so a check that read an address after they left it finds this
    /// true.
    @inline(__always)
    private func hasErasures(in organization: OrganizationID) -> Bool {
        hasErasures.load(ordering: .acquiring) && erasingOrganizations.withLock { $0.contains(organization) }
    }

    // MARK: Checks

    func decision(for address: Address, in organization: OrganizationID, query: CheckQuery) -> Decision {
        Decision(address: address, answering: query, blockedBy: blocks(for: address, in: organization, query: query))
    }

    func blocks(for address: borrowing Address, in organization: OrganizationID, query: borrowing CheckQuery) -> Decision.Blocks {
        var blocks = Decision.Blocks()
        collect(digestKey.digest(organization, address.normalized), in: organization, query: query, into: &blocks)
        if hasErasures(in: organization) {
            let hashed = digest(IndexKey(organization, erasureKey.hashedKey(for: address.normalized)))
            collect(hashed, in: organization, query: query, into: &blocks)
        }
        return blocks
    }

    /// Many addresses at once, grouped by shard: each shard's lock is taken once, and its lookups
    /// run back to back with every home slot touched first, so their cache misses overlap instead
    /// of queuing behind each lock's atomic instructions. It reads clear keys only, so where the
    /// organization has erasures it asks address by address, as `blocks(for:)` does; an erasure
    /// that began while it read (`beforeReading` lets a test start one there) may have moved an
    /// address's entries after the first look, so it looks again once it has read.
    func decisions(
        for addresses: [Address], in organization: OrganizationID, query: CheckQuery, beforeReading: () -> Void = {}
    ) -> [Decision] {
        let oneByOne = { addresses.map { self.decision(for: $0, in: organization, query: query) } }
        if addresses.count < 64 || hasErasures(in: organization) { return oneByOne() }
        beforeReading()
        let digests = addresses.map { digestKey.digest(organization, $0.normalized) }
        let (order, starts) = groupedByShard(digests.count) { digests[$0] }
        var blocks = [Decision.Blocks](repeating: [], count: addresses.count)
        var linked: [Int] = []
        for shard in 0..<shards.count where starts[shard] < starts[shard + 1] {
            let members = order[starts[shard]..<starts[shard + 1]]
            shards[shard].state.withLock { state in
                var touched: UInt64 = 0
                for position in members { touched &+= state.table.touch(digests[position]) }
                state.touched = touched
                for position in members {
                    if !state.links.isEmpty, state.links[digests[position]] != nil {
                        linked.append(position)
                    } else {
                        state.appendBlocks(of: digests[position], contact: nil, query: query, scopes: scopes, to: &blocks[position])
                    }
                }
            }
        }
        for position in linked { appendLinkedBlocks(of: digests[position], in: organization, query: query, to: &blocks[position]) }
        if hasErasures(in: organization) { return oneByOne() }
        return addresses.indices.map {
            Decision(address: addresses[$0], answering: query, blockedBy: blocks[$0])
        }
    }

    /// The address's decision, with the contact's own suppressions when the address is not
    /// linked to it.
    func decision(for address: Address, contact: ContactID, in organization: OrganizationID, query: CheckQuery) -> Decision {
        var blocks = blocks(for: address, in: organization, query: query)
        if !blocks.contains(where: { $0.contact == contact }) {
            appendContactBlocks(contact, in: organization, query: query, to: &blocks)
        }
        return Decision(address: address, answering: query, blockedBy: blocks)
    }

    /// Adds the blocks of a subject's own entries and of every contact it belongs to.
    private func collect(_ digest: SubjectDigest, in organization: OrganizationID, query: CheckQuery, into blocks: inout Decision.Blocks) {
        let linked = withShard(for: digest) { shard -> Bool in
            if appendBlocksWithoutLock(of: digest, shard: shard, query: query, to: &blocks) { return false }
            return shard.state.withLock { state in
                if !state.links.isEmpty, state.links[digest] != nil { return true }
                state.appendBlocks(of: digest, contact: nil, query: query, scopes: scopes, to: &blocks)
                return false
            }
        }
        if linked { appendLinkedBlocks(of: digest, in: organization, query: query, to: &blocks) }
    }

    func unlink(_ address: IndexKey, from contacts: Set<ContactID>) {
        unlink(digest(address), from: contacts)
    }

    func unlink(_ digest: SubjectDigest, from contacts: Set<ContactID>) {
        shard(for: digest).write { state in
            guard var links = state.links[digest] else { return }
            links.contacts.removeAll { contacts.contains($0) }
            state.links[digest] = links.contacts.isEmpty ? nil : links
        }
    }

    func contacts(of address: IndexKey) -> [ContactID] {
        let digest = digest(address)
        return shard(for: digest).state.withLock { $0.links[digest]?.contacts ?? [] }
    }

    /// Every entry of a subject, for tests and diagnostics.
    func entries(for key: IndexKey) -> [IndexEntry] {
        let digest = digest(key)
        var result: [PackedEntry] = []
        shard(for: digest).state.withLock { $0.table.forEach(of: digest) { result.append($0) } }
        return result.map { IndexEntry($0, scope: scopes[$0.scope]) }
    }
}
