#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HushCore
import Synchronization

extension SuppressionIndex {
    /// One part of the index, under its own lock. Writes change it under the lock
    /// (`write`); a single check reads it without (`read`, `SuppressionIndex+Reading.swift`):
    /// taking the lock wrote its cache line, which the other core had written last half the
    /// time, so a check paid for the line moving between the cores.
    final class Shard: Sendable {
        let state: Mutex<ShardState>
        /// Even between writes, odd during one: a read without the lock keeps what it read only
        /// when the version was even before and unchanged after.
        let version = Atomic<UInt64>(0)
        /// The table's slots and capacity as of the last write, for reads without the lock. A
        /// write stores the slots before the capacity and a reader loads the capacity first, so
        /// a reader never pairs old slots with a larger capacity.
        let slots = Atomic<UInt>(0)
        let capacity = Atomic<Int>(0)
        /// Whether any address of this shard is linked to contacts: a check of one needs the
        /// contacts' entries too, and takes the lock.
        let hasLinks = Atomic<Bool>(false)

        init(capacity: Int) {
            self.state = Mutex(ShardState(table: DigestTable(capacity: capacity)))
            state.withLock { publish($0) }
        }
        init(_ state: ShardState) {
            self.state = Mutex(state)
            self.state.withLock { publish($0) }
        }
    }
}

extension SuppressionIndex.Shard {
    /// Changes the shard under its lock, with the version odd meanwhile, and publishes the
    /// table's place for reads without the lock.
    func write<T>(_ body: (inout SuppressionIndex.ShardState) -> T) -> T {
        state.withLock { state in
            version.add(1, ordering: .relaxed)
            // The odd version is seen by any reader that sees a change made after it.
            atomicMemoryFence(ordering: .releasing)
            defer {
                publish(state)
                version.add(1, ordering: .releasing)
            }
            return body(&state)
        }
    }

    func publish(_ state: borrowing SuppressionIndex.ShardState) {
        slots.store(UInt(bitPattern: state.table.slots), ordering: .relaxed)
        capacity.store(state.table.capacity, ordering: .releasing)
        hasLinks.store(!state.links.isEmpty, ordering: .relaxed)
    }

    /// The entries of `digest`, read without the lock (a seqlock's read): nil when a write was
    /// under way or came in between, when the subject has more entries than `found` holds, or
    /// when the shard has linked addresses; the caller then takes the lock. What it reads
    /// during a write may be torn, and is thrown away: slots a resize left stay mapped
    /// (`DigestTable.retired`), and the probe stops after a table's worth of slots. The slot
    /// reads are plain loads racing the writer's stores, as in any seqlock (aligned words on
    /// x86-64 and arm64; a thread sanitizer reports them); and a reader still in retired slots
    /// reads the zero pages Linux maps there after `MADV_DONTNEED`, never a fault.
    func read(_ digest: SubjectDigest, into found: inout InlineArray<8, PackedEntry>) -> Int? {
        let before = version.load(ordering: .acquiring)
        guard before & 1 == 0, !hasLinks.load(ordering: .relaxed) else { return nil }
        let capacity = capacity.load(ordering: .acquiring)
        guard let slots = UnsafePointer<DigestSlot>(bitPattern: slots.load(ordering: .relaxed)) else { return nil }
        var count = 0
        var overflow = false
        DigestTable.forEachIndex(of: digest, in: slots, capacity: capacity) { index in
            guard count < found.count else {
                overflow = true
                return
            }
            found[count] = slots[index].entry
            count += 1
        }
        atomicMemoryFence(ordering: .acquiring)
        guard !overflow, version.load(ordering: .relaxed) == before else { return nil }
        return count
    }
}

extension SuppressionIndex {
    static func borrowable(_ shards: [Shard]) -> UnsafeMutablePointer<Unmanaged<Shard>> {
        let pointer = UnsafeMutablePointer<Unmanaged<Shard>>.allocate(capacity: shards.count)
        pointer.initialize(from: shards.map { Unmanaged.passUnretained($0) }, count: shards.count)
        return pointer
    }

    /// Runs `body` with the digest's shard, borrowed: `shards` keeps every shard alive for as long
    /// as the index, so a check need not retain one.
    @inline(__always)
    func withShard<T>(for digest: SubjectDigest, _ body: (Shard) -> T) -> T {
        borrowedShards[shardIndex(of: digest)]._withUnsafeGuaranteedRef(body)
    }

    /// The blocks of a subject's own entries, read without a lock where it can be (`Shard.read`);
    /// false when the caller must take the lock.
    func appendBlocksWithoutLock(of digest: SubjectDigest, shard: Shard, query: CheckQuery, to blocks: inout Decision.Blocks) -> Bool {
        var found = InlineArray<8, PackedEntry>(repeating: .none)
        guard let count = shard.read(digest, into: &found) else { return false }
        for position in 0..<count {
            Self.appendBlock(of: found[position], contact: nil, query: query, scopes: scopes, to: &blocks) { list in
                withCurrentListNames { $0.table[list] }
            }
        }
        return true
    }

    /// Runs `body` with the list names as this thread last copied them from this index, copied
    /// again when they changed since (`namesStamp`): a read without a lock names lists without
    /// one either. The copy is borrowed, not retained: the thread's key holds it.
    @inline(__always)
    private func withCurrentListNames<T>(_ body: (ThreadListNames) -> T) -> T {
        ThreadListNames.withCurrent { cache in
            let stamp = namesStamp.load(ordering: .acquiring)
            if cache.index != serial || cache.stamp != stamp {
                (cache.stamp, cache.table) = listNamesNow()
                cache.index = serial
            }
            return body(cache)
        }
    }
}

/// One thread's copy of one index's list names (`SuppressionIndex.withCurrentListNames`), kept in
/// thread-specific storage and released when the thread ends.
final class ThreadListNames {
    /// The index's serial (never reused, unlike its address), and its names' stamp when copied.
    var index: UInt64 = 0
    var stamp: UInt64 = 0
    var table = ListNameTable()

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { raw in
            // Optional on Linux, not on Darwin.
            if let raw = raw as UnsafeMutableRawPointer? { Unmanaged<ThreadListNames>.fromOpaque(raw).release() }
        }
        return key
    }()

    /// Runs `body` with this thread's copy, made on first use.
    @inline(__always)
    static func withCurrent<T>(_ body: (ThreadListNames) -> T) -> T {
        guard let raw = pthread_getspecific(key) else {
            let cache = ThreadListNames()
            pthread_setspecific(key, Unmanaged.passRetained(cache).toOpaque())
            return body(cache)
        }
        return Unmanaged<ThreadListNames>.fromOpaque(raw)._withUnsafeGuaranteedRef(body)
    }
}
