import HushCore
import Synchronization

/// Every suppression of every organization, in memory, keyed by subject, and the name of every
/// list. Checks read it and never touch disk. It is sharded so that concurrent checks and writes
/// rarely meet on a lock.
///
/// The index does not decide what changes: it applies what the ledger says, in ledger order,
/// through `LedgerFollower`.
final class SuppressionIndex: Sendable {
    private struct ShardState {
        var entries: [IndexKey: IndexEntries] = [:]
        /// The contacts each address belongs to; their entries cover the address too.
        var contacts: [IndexKey: [ContactID]] = [:]
        /// Every shard holds the same dictionary (one copy, shared), so a check names its lists
        /// under the lock it takes anyway rather than on one lock every check would share.
        var listNames = ListNameTable()

        /// Appends a block for each of `key`'s entries that blocks `query`, naming its list.
        func appendBlocks(of key: IndexKey, contact: ContactID?, query: CheckQuery, to blocks: inout [Decision.Block]) {
            entries[key]?.forEach { entry in
                if query.isBlocked(by: entry.channel, scope: entry.scope, list: entry.list, listIsDefault: entry.listIsDefault) {
                    // A list's name reaches the index before its entries; the id is only a fallback.
                    blocks.append(entry.block(contact: contact, listName: listNames[entry.list]))
                }
            }
        }
    }

    private final class Shard: Sendable {
        let state: Mutex<ShardState>
        init(capacity: Int) {
            var state = ShardState()
            state.entries.reserveCapacity(capacity)
            self.state = Mutex(state)
        }
    }

    private let shards: [Shard]
    private let shardMask: UInt64
    private let erasingOrganizations = Mutex<Set<OrganizationID>>([])
    /// Set once any erasure exists, so checks skip hashing and a lock until then.
    private let hasErasures = Atomic<Bool>(false)
    private let entryCount = Atomic<Int>(0)
    private let erasureKey: ErasureKey
    /// The list names every shard is given: changed only here, under this lock, so shards
    /// receive them in order. `version` counts changes, so that a read of every name made
    /// before a change does not undo it.
    private let listNames = Mutex<(names: [ListID: String], version: UInt64)>(([:], 0))

    init(erasureKey: ErasureKey, expectedCount: Int = 0, shardCount: Int = 256) {
        precondition(shardCount > 0 && shardCount & (shardCount - 1) == 0, "shard count is a power of two")
        self.erasureKey = erasureKey
        self.shardMask = UInt64(shardCount - 1)
        let perShard = expectedCount / shardCount + expectedCount / (shardCount * 8)
        self.shards = (0..<shardCount).map { _ in Shard(capacity: perShard) }
    }

    /// How many suppressions the index holds.
    var count: Int { entryCount.load(ordering: .relaxed) }

    private func shard(for key: IndexKey) -> Shard {
        shards[Int(key.shardHash & shardMask)]
    }

    // MARK: Changes

    /// Files a suppression; a repeat of one already held changes nothing.
    func add(_ entry: IndexEntry, for key: IndexKey) {
        let added = shard(for: key).state.withLock { state -> Bool in
            if var existing = state.entries[key] {
                // Written back even when nothing was added: a held suppression replaces the
                // plain one it repeats.
                let added = existing.add(entry)
                state.entries[key] = existing
                return added
            }
            state.entries[key] = .one(entry)
            return true
        }
        if added { entryCount.add(1, ordering: .relaxed) }
    }

    /// Removes the suppression `entry` names (same channel, list and scope).
    func remove(_ entry: IndexEntry, for key: IndexKey) {
        let removed = shard(for: key).state.withLock { state -> Int in
            guard let existing = state.entries[key] else { return 0 }
            let (remaining, removed) = existing.removing(entry)
            state.entries[key] = remaining
            return removed
        }
        if removed > 0 { entryCount.subtract(removed, ordering: .relaxed) }
    }

    /// Drops every entry and link of a subject (an erased address, once its hashed key holds them).
    func removeAll(for key: IndexKey) {
        let removed = shard(for: key).state.withLock { state in
            state.contacts.removeValue(forKey: key)
            return state.entries.removeValue(forKey: key)?.count ?? 0
        }
        if removed > 0 { entryCount.subtract(removed, ordering: .relaxed) }
    }

    func link(_ address: IndexKey, to contact: ContactID) {
        shard(for: address).state.withLock { state in
            var contacts = state.contacts[address, default: []]
            guard !contacts.contains(contact) else { return }
            contacts.append(contact)
            state.contacts[address] = contacts
        }
    }

    func noteErasure(in organization: OrganizationID) {
        erasingOrganizations.withLock { _ = $0.insert(organization) }
        hasErasures.store(true, ordering: .releasing)
    }

    // MARK: List names

    /// Counts the list names' changes; give it to `replaceListNames` with a read made after.
    var listNamesVersion: UInt64 { listNames.withLock { $0.version } }

    func noteListName(_ name: String, for list: ListID) {
        listNames.withLock { current in
            guard current.names[list] != name else { return }
            current.names[list] = name
            current.version &+= 1
            publish(current.names)
        }
    }

    /// Takes every name read from the database, unless a name changed since `version` (the read
    /// may predate that change; the next read brings it).
    func replaceListNames(with names: [ListID: String], readAt version: UInt64) {
        listNames.withLock { current in
            guard current.version == version, current.names != names else { return }
            current.names = names
            publish(names)
        }
    }

    private func publish(_ names: [ListID: String]) {
        let table = ListNameTable(names)
        for shard in shards {
            shard.state.withLock { $0.listNames = table }
        }
    }

    // MARK: Checks

    func decision(for address: Address, in organization: OrganizationID, query: CheckQuery) -> Decision {
        var blocks: [Decision.Block] = []
        collect(IndexKey(organization, address.normalized), query: query, into: &blocks)
        if hasErasures.load(ordering: .acquiring), erasingOrganizations.withLock({ $0.contains(organization) }) {
            collect(IndexKey(organization, erasureKey.hashedKey(for: address.normalized)), query: query, into: &blocks)
        }
        return Decision(address: address, channel: query.channel, scope: query.scope, blockedBy: blocks)
    }

    /// The address's decision, with the contact's own suppressions when the address is not
    /// linked to it.
    func decision(for address: Address, contact: ContactID, in organization: OrganizationID, query: CheckQuery) -> Decision {
        let decision = decision(for: address, in: organization, query: query)
        guard !decision.blockedBy.contains(where: { $0.contact == contact }) else { return decision }
        var blocks = decision.blockedBy
        let contactKey = IndexKey(organization, .contact(contact.externalID))
        shard(for: contactKey).state.withLock { $0.appendBlocks(of: contactKey, contact: contact, query: query, to: &blocks) }
        return Decision(address: address, channel: query.channel, scope: query.scope, blockedBy: blocks)
    }

    /// Adds the blocks of an address's own entries and of every contact it belongs to.
    private func collect(_ key: IndexKey, query: CheckQuery, into blocks: inout [Decision.Block]) {
        let contacts = shard(for: key).state.withLock { state in
            state.appendBlocks(of: key, contact: nil, query: query, to: &blocks)
            return state.contacts.isEmpty ? nil : state.contacts[key]
        }
        for contact in contacts ?? [] {
            let contactKey = IndexKey(key.organization, .contact(contact.externalID))
            shard(for: contactKey).state.withLock { $0.appendBlocks(of: contactKey, contact: contact, query: query, to: &blocks) }
        }
    }

    func unlink(_ address: IndexKey, from contacts: Set<ContactID>) {
        shard(for: address).state.withLock { state in
            guard let linked = state.contacts[address] else { return }
            let remaining = linked.filter { !contacts.contains($0) }
            state.contacts[address] = remaining.isEmpty ? nil : remaining
        }
    }

    func contacts(of address: IndexKey) -> [ContactID] {
        shard(for: address).state.withLock { $0.contacts[address] ?? [] }
    }

    /// The keys of an organization whose entries or links satisfy `predicate`.
    func keys(
        in organization: OrganizationID, where predicate: (IndexKey, [IndexEntry], [ContactID]) -> Bool
    ) -> [IndexKey] {
        var found: [IndexKey] = []
        for shard in shards {
            shard.state.withLock { state in
                for (key, entries) in state.entries where key.organization == organization {
                    var list: [IndexEntry] = []
                    entries.forEach { list.append($0) }
                    if predicate(key, list, state.contacts[key] ?? []) { found.append(key) }
                }
                for (key, contacts) in state.contacts where key.organization == organization && state.entries[key] == nil {
                    if predicate(key, [], contacts) { found.append(key) }
                }
            }
        }
        return found
    }

    /// Every entry of a subject, for tests and diagnostics.
    func entries(for key: IndexKey) -> [IndexEntry] {
        var result: [IndexEntry] = []
        shard(for: key).state.withLock { $0.entries[key] }?.forEach { result.append($0) }
        return result
    }
}

/// List names by id for the check path: list ids are small row ids, so an array indexed by id
/// answers without hashing; a larger id (never seen in practice) goes to a dictionary.
struct ListNameTable: Sendable {
    private static let arrayLimit: Int64 = 1 << 16
    private var byIndex: [String?] = []
    private var others: [ListID: String] = [:]

    init(_ names: [ListID: String] = [:]) {
        for (list, name) in names {
            if list.rawValue >= 0, list.rawValue < Self.arrayLimit {
                let index = Int(list.rawValue)
                if index >= byIndex.count { byIndex += Array(repeating: nil, count: index + 1 - byIndex.count) }
                byIndex[index] = name
            } else {
                others[list] = name
            }
        }
    }

    /// The list's name; its id written out if the name has not reached the index yet.
    subscript(list: ListID) -> String {
        let index = list.rawValue
        if index >= 0, index < Int64(byIndex.count), let name = byIndex[Int(index)] { return name }
        return others[list] ?? String(list.rawValue)
    }
}
