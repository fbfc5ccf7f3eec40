#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HushCore

/// A suppression packed into 24 bytes: its event, since when, and one word for the rest.
///
/// `bits`: list id (bits 0–31), scope id (32–54, see `ScopeTable`), channel (55–57: 0 for `all`,
/// else 1 + the channel's position), source (58–61, its position), hold (62), on `default` (63).
struct PackedEntry: Hashable, Sendable {
    let eventSequence: Int64
    let sinceMilliseconds: Int64
    let bits: UInt64

    static let maximumList: Int64 = 1 << 32 - 1
    static let maximumScopes = 1 << 23

    /// Channels and sources by code, as entries and snapshots store them: a new one goes at the
    /// end, and any other change needs a new snapshot version (`IndexLayoutTests` holds the
    /// codes). Written out, so that the compiler lays the arrays out in the binary and a check
    /// reads them without first making sure they were made.
    static let channels: [ChannelSelection] = [.all, .only(.email), .only(.sms), .only(.whatsapp), .only(.voice)]
    static let sources: [Source] = [.api, .link, .oneClick, .preferenceCenter, .keyword, .rep, .trigger, .crm, .import]

    init(
        eventSequence: Int64, sinceMilliseconds: Int64, list: ListID, scope: ScopeID, channel: ChannelSelection,
        source: Source, listIsDefault: Bool, hold: Bool
    ) {
        precondition(list.rawValue >= 0 && list.rawValue <= Self.maximumList, "a list id fits 32 bits")
        let channelCode = UInt64(Self.channels.firstIndex(of: channel)!)
        self.eventSequence = eventSequence
        self.sinceMilliseconds = sinceMilliseconds
        self.bits = UInt64(list.rawValue) | UInt64(scope.rawValue) << 32 | channelCode << 55
            | UInt64(Self.sources.firstIndex(of: source)!) << 58 | (hold ? 1 << 62 : 0) | (listIsDefault ? 1 << 63 : 0)
    }

    private init(eventSequence: Int64, sinceMilliseconds: Int64, bits: UInt64) {
        self.eventSequence = eventSequence
        self.sinceMilliseconds = sinceMilliseconds
        self.bits = bits
    }

    /// What an empty slot holds.
    static let none = PackedEntry(eventSequence: 0, sinceMilliseconds: 0, bits: 0)

    var list: ListID { ListID(rawValue: Int64(bits & 0xffff_ffff)) }
    var scope: ScopeID { ScopeID(rawValue: UInt32(truncatingIfNeeded: bits >> 32) & 0x7f_ffff) }
    var channel: ChannelSelection { Self.channels[Int(bits >> 55 & 0x7)] }
    var source: Source { Self.sources[Int(bits >> 58 & 0xf)] }
    var hold: Bool { bits & 1 << 62 != 0 }
    var listIsDefault: Bool { bits & 1 << 63 != 0 }

    /// The fields that say which suppression this is: list, scope and channel.
    private static let identity: UInt64 = 0xffff_ffff | 0x7f_ffff << 32 | 0x7 << 55

    /// Whether this entry and `other` name the same suppression (an opt-in lifts it).
    func sameSuppression(as other: PackedEntry) -> Bool {
        bits & Self.identity == other.bits & Self.identity
    }
}

/// One slot of a `DigestTable`: 40 bytes.
struct DigestSlot: Sendable {
    var digest: SubjectDigest
    var entry: PackedEntry
}

/// An open-addressing multimap from subject digest to packed entries, with Robin Hood linear
/// probing: an entry sits at its digest's home slot or after it, entries further from home take
/// precedence, so a lookup stops at the first slot nearer its home than the probe has come, and a
/// removal shifts the run after it back (no tombstones). A subject's entries sit in adjacent
/// slots. No other allocation per entry: 40 bytes a slot, at most 90 % full before it grows by
/// half.
///
/// The slots are one zero-filled mapping (`SlotStorage`); a check costs about one cache miss, so
/// large tables ask for huge pages, which spare it most TLB misses. A class, used only under its
/// shard's lock: it is never copied.
final class DigestTable: @unchecked Sendable {
    private var storage: SlotStorage
    private(set) var count = 0
    /// Slots a resize moved out of, their pages handed back but their addresses kept until the
    /// table goes: a check reading without the lock (`SuppressionIndex.Shard.read`) may still be
    /// in one, and reads zeros there, which its version check then throws away.
    private var retired: [SlotStorage] = []

    init(capacity: Int = 0) {
        storage = SlotStorage(capacity: max(capacity, 8))
    }

    var capacity: Int { storage.capacity }
    var slots: UnsafeMutablePointer<DigestSlot> { storage.slots }

    /// Where `digest`'s entries start looking: its high word scaled to the capacity.
    @inline(__always)
    private static func home(_ digest: SubjectDigest, _ capacity: Int) -> Int {
        Int(truncatingIfNeeded: digest.high.multipliedFullWidth(by: UInt64(capacity)).high)
    }

    /// How far the slot at `index` is from its digest's home.
    @inline(__always)
    private static func distance(_ digest: SubjectDigest, at index: Int, _ capacity: Int) -> Int {
        let home = home(digest, capacity)
        return index >= home ? index - home : index + capacity - home
    }

    /// Calls `body` with each slot index holding `digest`'s entries.
    @inline(__always)
    func forEachIndex(of digest: SubjectDigest, _ body: (Int) -> Void) {
        Self.forEachIndex(of: digest, in: storage.slots, capacity: storage.capacity, body)
    }

    /// The same over any slots: also over slots a write is changing, read without the lock,
    /// where it stops after `capacity` probes whatever it reads.
    @inline(__always)
    static func forEachIndex(of digest: SubjectDigest, in slots: UnsafePointer<DigestSlot>, capacity: Int, _ body: (Int) -> Void) {
        var index = home(digest, capacity)
        var probed = 0
        while probed < capacity {
            let slot = slots[index]
            if slot.digest.isEmpty { return }
            if slot.digest == digest {
                body(index)
            } else if distance(slot.digest, at: index, capacity) < probed {
                return
            }
            index += 1
            if index == capacity { index = 0 }
            probed += 1
        }
    }

    /// Reads the digest's home slot and returns a word of it: a batch touches every home first, so
    /// that the processor fetches them all at once rather than one miss after another.
    @inline(__always)
    func touch(_ digest: SubjectDigest) -> UInt64 {
        storage.slots[Self.home(digest, storage.capacity)].digest.low
    }

    func forEach(of digest: SubjectDigest, _ body: (PackedEntry) -> Void) {
        let slots = storage.slots
        forEachIndex(of: digest) { body(slots[$0].entry) }
    }

    func firstIndex(of digest: SubjectDigest, where predicate: (PackedEntry) -> Bool) -> Int? {
        var found: Int?
        forEachIndex(of: digest) { index in
            if found == nil, predicate(storage.slots[index].entry) { found = index }
        }
        return found
    }

    subscript(index: Int) -> DigestSlot {
        get { storage.slots[index] }
        set { storage.slots[index] = newValue }
    }

    func insert(_ digest: SubjectDigest, _ entry: PackedEntry) {
        if (count + 1) * 10 > capacity * 9 { resize(to: capacity + capacity / 2) }
        place(DigestSlot(digest: digest, entry: entry))
        count += 1
    }

    private func place(_ slot: DigestSlot) {
        let slots = storage.slots
        let capacity = storage.capacity
        var carried = slot
        var index = Self.home(carried.digest, capacity)
        var probed = 0
        while true {
            let existing = slots[index]
            if existing.digest.isEmpty {
                slots[index] = carried
                return
            }
            let existingDistance = Self.distance(existing.digest, at: index, capacity)
            if existingDistance < probed {
                slots[index] = carried
                carried = existing
                probed = existingDistance
            }
            index += 1
            if index == capacity { index = 0 }
            probed += 1
        }
    }

    /// Removes the entry at `index`, shifting back the entries after it that are not at home.
    func remove(at index: Int) {
        let slots = storage.slots
        let capacity = storage.capacity
        var hole = index
        while true {
            var next = hole + 1
            if next == capacity { next = 0 }
            let slot = slots[next]
            if slot.digest.isEmpty || Self.distance(slot.digest, at: next, capacity) == 0 {
                slots[hole] = DigestSlot(digest: .empty, entry: .none)
                break
            }
            slots[hole] = slot
            hole = next
        }
        count -= 1
    }

    private func resize(to capacity: Int) {
        let old = storage
        storage = SlotStorage(capacity: max(capacity, 8))
        for index in 0..<old.capacity where !old.slots[index].digest.isEmpty { place(old.slots[index]) }
        old.discardPages()
        retired.append(old)
    }

    /// The table's size, count and slots as they lie in memory.
    func write(to output: inout SnapshotOutput) throws {
        output.integer(UInt64(capacity))
        output.integer(UInt64(count))
        try output.raw(UnsafeRawBufferPointer(start: storage.slots, count: capacity * MemoryLayout<DigestSlot>.stride))
    }

    /// A table as `write(to:)` wrote it.
    init(reading input: inout SnapshotInput) throws {
        // Checked as read, before any arithmetic on them: a damaged size is refused, not trapped on.
        let capacity = try input.integer(UInt64.self)
        let count = try input.integer(UInt64.self)
        guard capacity >= 8, capacity <= UInt64(input.remaining / MemoryLayout<DigestSlot>.stride), count <= capacity, count * 10 <= capacity * 9 else {
            throw HushError(.storage, "the index snapshot holds a table of \(count) in \(capacity) slots")
        }
        storage = SlotStorage(capacity: Int(capacity))
        self.count = Int(count)
        try input.raw(UnsafeMutableRawBufferPointer(start: storage.slots, count: storage.capacity * MemoryLayout<DigestSlot>.stride))
        var occupied = 0
        for index in 0..<storage.capacity where !storage.slots[index].digest.isEmpty { occupied += 1 }
        guard occupied == self.count else { throw HushError(.storage, "the index snapshot's table holds \(occupied) entries, not \(count)") }
    }

    /// Every occupied slot, in table order.
    func forEachSlot(_ body: (DigestSlot) -> Void) {
        for index in 0..<storage.capacity where !storage.slots[index].digest.isEmpty { body(storage.slots[index]) }
    }
}

/// Zero-filled slots (all empty) from an anonymous mapping, which starts on a 2 MB boundary when
/// it is that large, because only whole 2 MB pages inside a mapping can be huge; `MADV_HUGEPAGE`
/// asks for them where transparent huge pages are set to `madvise`, as Debian's kernel is. The
/// slots past the last whole huge page stay on small pages (about a sixth at ten million entries).
final class SlotStorage {
    let slots: UnsafeMutablePointer<DigestSlot>
    let capacity: Int
    private let length: Int

    private static let hugePage = 2 << 20

    init(capacity: Int) {
        self.capacity = capacity
        length = capacity * MemoryLayout<DigestSlot>.stride
        slots = Self.alignedMapping(length: length).bindMemory(to: DigestSlot.self, capacity: capacity)
        #if os(Linux)
        // MADV_POPULATE_WRITE (23, Linux 5.14): the pages are made now, writable. Otherwise a
        // lookup's read maps the shared zero page and the first write to it faults again and
        // flushes every core's TLB (perf: a sixth of a batch write's time). Older kernels refuse
        // it, and pages are made on first touch as before.
        _ = madvise(slots, length, 23)
        #endif
    }

    /// `length` bytes, starting on a huge page boundary and asked for huge pages when they fill
    /// one: mapped with a huge page to spare, then trimmed to the boundary.
    private static func alignedMapping(length: Int) -> UnsafeMutableRawPointer {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let mapped = (length + page - 1) / page * page
        let spare = length >= hugePage ? hugePage : 0
        guard let mapping = mmap(nil, mapped + spare, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), mapping != MAP_FAILED else {
            fatalError("the index could not map \(mapped + spare) bytes for its table")
        }
        guard spare > 0 else { return mapping }
        let head = (hugePage - Int(bitPattern: mapping) % hugePage) % hugePage
        if head > 0 { munmap(mapping, head) }
        if spare > head { munmap(mapping + head + mapped, spare - head) }
        _ = madvise(mapping + head, length, MADV_HUGEPAGE)
        return mapping + head
    }

    /// Hands the pages back; the addresses stay mapped, reading zeros (empty slots).
    func discardPages() {
        _ = madvise(slots, length, MADV_DONTNEED)
    }

    deinit {
        munmap(slots, length)
    }
}
